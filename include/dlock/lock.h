// lock.h: Lock, the RAII guard for one held lease.
//
// A Lock releases its lease when destroyed, is renewed in the background by its Locker
// while held, and says through lost() when the lease ended without a Release: renewal
// said not-held, or the store could not be reached until the lease's validity ran out.
//
// A reentrant lock (AcquireOptions::reentrant) taken again by its holder gives another
// Lock on the same lease: the same lease(), token() and lost(), one renewal. Each Lock
// releases its own hold; the lease is freed in the store when the last one does.
//
// Thread-safety: a Lock is move-only and owned by one thread at a time; held(), lease(),
// token() and lost() may be called while the background threads work. A Lock may outlive
// its Locker: renewal goes on until the last Lock of the Locker is gone. Locks on one
// re-entered lease may be owned by different threads (each Lock by one).
#ifndef DLOCK_LOCK_H_
#define DLOCK_LOCK_H_

#include <atomic>
#include <functional>
#include <memory>
#include <stop_token>

#include "dlock/export.h"
#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock {

namespace internal {
struct HeldLock;
class LockerCore;
}  // namespace internal

class [[nodiscard]] DLOCK_API Lock {
 public:
  Lock() = default;  // holds nothing
  Lock(Lock&& other) noexcept;
  // Releases what this Lock held first.
  Lock& operator=(Lock&& other) noexcept;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  // Best-effort Release(); a failure is reported as an Event (kReleased with its status).
  // Within a callback of Locker::TryAcquireAsync or ReleaseAsync: ReleaseAsync().
  ~Lock();

  // True while the lease is ours: not released (by this Lock, or by the last Lock of a
  // re-entered lease), not detached, not lost, and before its valid_until.
  bool held() const;

  // A copy of the lease; valid_until moves forward with each renewal.
  // REQUIRES: this Lock came from a successful Locker::Acquire.
  Lease lease() const;
  FencingToken token() const;

  // Requested once the lease is lost, before its valid_until passes: renewal said
  // not-held, or no renewal succeeded until shortly before valid_until. Not requested
  // by Release() or Detach(). Callbacks (std::stop_callback) run on one of the Locker's
  // threads and must be quick; they may call Release() or destroy the Lock.
  std::stop_token lost() const;

  // Why the lease was lost (OK while not lost).
  Status lost_reason() const;

  // Stops renewal and frees the lock in the store. OK, or kNotHeld if it was already
  // released, detached or lost (harmless), or the store's error (the lock then frees
  // at its TTL). Idempotent. Within a callback of Locker::TryAcquireAsync or
  // ReleaseAsync, where it would block: starts ReleaseAsync() and returns
  // kFailedPrecondition.
  // One of several Locks on a re-entered lease gives up only its own hold: OK (kNotHeld
  // if the lease was detached or lost) at once, with no store call, and the lease stays
  // held and renewed; the last hold's Release is the one described above.
  Status Release();

  // Release without blocking: `done` (may be null) gets what Release() would return,
  // exactly once (a second release, of either kind, answers kNotHeld): on the backend's
  // I/O thread where it has an AsyncBackend (async_backend.h), else on the calling
  // thread before this returns (as for one of several holds of a re-entered lease).
  // When a renewal call was in flight, the release goes out from the Locker's renewal
  // thread once that call is over (and `done` runs on the I/O thread, or on the renewal
  // thread). The same rules for `done` as Locker::TryAcquireAsync.
  void ReleaseAsync(std::function<void(Status)> done = nullptr);

  // Stops renewal and forgets the lease without releasing it: the lock stays held in the
  // store until its TTL passes or someone releases it with the owner id. Returns the
  // lease. Used by `dlock acquire`, whose lock outlives the process. Within an
  // asynchronous callback it does not wait for a renewal call in flight (which may then
  // still extend the lease in the store). A re-entered lease is detached for all its
  // Locks: each then holds nothing, and its Release answers kNotHeld with no store call.
  Lease Detach();

 private:
  friend class Locker;
  Lock(std::shared_ptr<internal::LockerCore> core, std::shared_ptr<internal::HeldLock> held);
  // Release(), or ReleaseAsync() within an asynchronous callback.
  void ReleaseOnDrop();

  std::shared_ptr<internal::LockerCore> core_;
  std::shared_ptr<internal::HeldLock> held_;
  // This Lock gave up its hold of held_ (Release or ReleaseAsync): once per Lock, as
  // several Locks may share held_, even when a lost() callback releases meanwhile.
  std::atomic<bool> released_{false};
};

}  // namespace dlock

#endif  // DLOCK_LOCK_H_
