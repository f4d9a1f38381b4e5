// async_backend.h: the optional non-blocking calls of a Backend (backend.h):
// Redisson's tryLockAsync/unlockAsync. One thread can keep thousands of calls in flight.
//
// Offered by: Redis (redis://, rediss://), whose calls are pipelined on the client's
// connections with `done` run on its I/O thread, and Redlock (redlock://), whose rounds
// go to every instance at once and decide on an instance's I/O thread. Locker finds it through
// Backend::async(); the free functions below fall back to the blocking calls elsewhere.
//
// Thread-safety: as the Backend that offers it.
#ifndef DLOCK_ASYNC_BACKEND_H_
#define DLOCK_ASYNC_BACKEND_H_

#include <functional>

#include "dlock/backend.h"
#include "dlock/export.h"
#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock {

// What an asynchronous call reports, exactly once.
using AcquireCallback = std::function<void(Result<Lease>)>;
using StatusCallback = std::function<void(Status)>;

class DLOCK_API AsyncBackend {
 public:
  virtual ~AsyncBackend() = default;

  // Backend::TryAcquire and Backend::Release without blocking: they return before the
  // store answers, and `done` gets what the blocking call would return, exactly once,
  // on a thread of the backend's. `done` must be quick and must not block: it may start
  // further asynchronous calls, but a blocking call on this backend from it may
  // deadlock. Keep the backend alive until `done` has run (Locker's calls do); the last
  // reference may be dropped within `done`.
  virtual void TryAcquireAsync(const AcquireRequest& request, AcquireCallback done) = 0;
  virtual void ReleaseAsync(const Lease& lease, StatusCallback done) = 0;
};

// backend.async()'s call where it has one; else the blocking call, with `done` run on
// the calling thread before this returns.
DLOCK_API void TryAcquireAsync(Backend& backend, const AcquireRequest& request,
                               AcquireCallback done);
DLOCK_API void ReleaseAsync(Backend& backend, const Lease& lease, StatusCallback done);

}  // namespace dlock

#endif  // DLOCK_ASYNC_BACKEND_H_
