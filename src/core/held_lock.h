// held_lock.h: the record of one held lease, shared by its Lock (its Locks, once
// re-entered), the Locker's renewal thread and its watchdog (HeldLock), and where it
// stands in their queues.
//
// Thread-safety: the lease granted and the options are constant; state and valid_until
// are atomics, so Lock::held() never blocks; the rest is guarded as annotated (Clang's
// -Wthread-safety checks it).
#ifndef DLOCK_SRC_CORE_HELD_LOCK_H_
#define DLOCK_SRC_CORE_HELD_LOCK_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>

#include "core/mutex.h"
#include "core/thread_annotations.h"
#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock::internal {

using TimePoint = std::chrono::steady_clock::time_point;

enum class HeldState { kHeld, kReleased, kDetached, kLost };

struct HeldLock;
using RenewQueue = std::multimap<TimePoint, std::weak_ptr<HeldLock>>;

// Where a lease stands in the Renewer's two queues. The Renewer's: read and written only
// under its mutex, through Renewer::SlotsOf, which requires it.
struct RenewSlots {
  std::optional<RenewQueue::iterator> renew;  // its next renewal
  std::optional<RenewQueue::iterator> watch;  // its loss point, for the watchdog
};

// A number for the calling thread, never reused within the process: unlike a
// std::thread::id, which may be once its thread has exited, while a Lock it acquired
// lives on elsewhere. kNoThread is none.
using ThreadSerial = std::uint64_t;
inline constexpr ThreadSerial kNoThread = 0;
ThreadSerial ThisThreadSerial();

// How long before valid_until a lease that could not be renewed is declared lost.
std::chrono::milliseconds LossMargin(std::chrono::milliseconds ttl);

struct HeldLock {
  HeldLock(Lease lease, bool auto_renew, bool reentrant, ThreadSerial holder,
           std::chrono::milliseconds interval, TimePoint acquired_at);

  // Constant after construction. `granted.valid_until` is the first validity; the
  // current one is valid_until().
  const Lease granted;
  const bool auto_renew;
  const bool reentrant;  // AcquireOptions::reentrant: its holder may take it again
  // The thread that acquired it with Locker::Acquire, under which the LockerCore knows
  // it (LockerCore::holders_); kNoThread for TryAcquireAsync.
  const ThreadSerial holder;
  const std::chrono::milliseconds interval;  // between renewals
  const TimePoint acquired_at;

  // The lease as it stands: `granted` with the current validity.
  Lease lease() const;
  TimePoint valid_until() const { return TimePoint(TimePoint::duration(valid_until_.load())); }
  void set_valid_until(TimePoint t) { valid_until_ = t.time_since_epoch().count(); }
  // valid_until() less the loss margin: past it, the watchdog declares the lease lost.
  TimePoint loss_point() const { return valid_until() - LossMargin(granted.ttl); }

  std::atomic<HeldState> state{HeldState::kHeld};
  std::stop_source lost;  // requested once, when state becomes kLost

  // Serializes renewal calls with Release/Detach, so that a late renewal can never
  // extend a lease after it was released.
  Mutex mu;
  // A renewal call is in flight; Release and Detach wait on renewal_done until it is
  // over. (A flag, not mu held across the call: a batch renews many leases at once.)
  bool renewing GUARDED_BY(mu) = false;
  std::condition_variable renewal_done;  // waited on with mu
  // A ReleaseAsync that came while a renewal call was in flight: marked released at once,
  // and its store call run by the renewal thread once the renewal call is over, as
  // ReleaseAsync cannot wait for it. At most one: a later release finds the lock
  // released already.
  std::function<void()> release_after_renewal GUARDED_BY(mu);
  // The Locks on this lease that have not released it: 1, plus one per re-entry
  // (AcquireOptions::reentrant). The one that brings it to 0 frees it in the store.
  int holds GUARDED_BY(mu) = 1;
  // Returns once no renewal call is in flight (for Release and Detach).
  void AwaitNotRenewing(MutexLock& lock) REQUIRES(mu) {
    while (renewing) renewal_done.wait(lock.native());
  }

  // Guards the three below; never held across a store call, so the watchdog can declare
  // a loss while a renewal call hangs.
  Mutex reason_mu;
  Status lost_reason GUARDED_BY(reason_mu);            // set when state becomes kLost
  Status last_renew_error GUARDED_BY(reason_mu);       // reset by a successful renewal
  bool store_said_gone GUARDED_BY(reason_mu) = false;  // a renewal answered not-held

  RenewSlots slots;  // the Renewer's (see RenewSlots)

 private:
  std::atomic<TimePoint::rep> valid_until_;
};

}  // namespace dlock::internal

#endif  // DLOCK_SRC_CORE_HELD_LOCK_H_
