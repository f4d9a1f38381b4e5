// queueing_backend.h: the optional wait line of a Backend (backend.h), which serves
// waiters in the order they came (FIFO) instead of whoever asks first after a release.
//
// Offered by: file, memory, Redis (redis://), etcd and ZooKeeper; not by Redlock. Locker
// finds it through Backend::queueing(): where it is null, waiters are not queued and
// wait with Backend::WaitForRelease.
//
// Thread-safety: as the Backend that offers it.
#ifndef DLOCK_QUEUEING_BACKEND_H_
#define DLOCK_QUEUEING_BACKEND_H_

#include <chrono>
#include <optional>
#include <stop_token>
#include <string_view>

#include "dlock/backend.h"
#include "dlock/export.h"
#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock {

class DLOCK_API QueueingBackend {
 public:
  virtual ~QueueingBackend() = default;

  // Waits for the turn of a queued request (AcquireRequest::queue) that failed with
  // kContended, as its waiter (request.owner_id), for a caller about to try it again:
  // until the lock may be free and this waiter is at the head of the line, or the
  // line changed. A backend that hands a released lock to the head of its line in the
  // same step (Redis) returns that grant here: a Lease as TryAcquire's, valid from when
  // the request was last sent, so that the caller need not ask again. Otherwise
  // nullopt, and the caller must call TryAcquire again (which returns a lock handed over
  // meanwhile) or LeaveQueue. Errors as Backend::WaitForRelease's (kUnimplemented: poll).
  // A lock handed over but never returned (an error, a stop) stays with the owner until
  // its TTL or LeaveQueue.
  virtual Result<std::optional<Lease>> WaitForTurn(const AcquireRequest& request,
                                                   std::chrono::steady_clock::time_point deadline,
                                                   std::stop_token stop) = 0;

  // Takes `owner_id` out of the lock's wait line: a waiter that gives up (deadline,
  // cancellation, error) must not hold up those behind it, and a lock handed to it by
  // WaitForTurn and never returned is freed. Idempotent: OK when it was not in line.
  virtual Status LeaveQueue(std::string_view name, std::string_view owner_id) = 0;
};

}  // namespace dlock

#endif  // DLOCK_QUEUEING_BACKEND_H_
