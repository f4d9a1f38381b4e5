// renewer.h: the two queues of a Locker's held leases and the two threads that serve
// them: the renewal thread (each lease at its next renewal) and the watchdog (each lease
// at its loss point, so that a loss is declared on time even while a renewal call
// hangs). What a thread does with the leases that fall due is the owner's Step; the
// Renewer only keeps time.
//
// Thread-safety: safe for concurrent use. The threads start at the first Schedule.
#ifndef DLOCK_SRC_CORE_RENEWER_H_
#define DLOCK_SRC_CORE_RENEWER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>

#include "core/held_lock.h"
#include "core/mutex.h"
#include "core/thread_annotations.h"
#include "dlock/clock.h"

namespace dlock::internal {

class Renewer {
 public:
  using Batch = std::vector<std::shared_ptr<HeldLock>>;
  // Serves the leases of a batch that fell due (without the Renewer's mutex); returns,
  // per lease, when to serve it again, or nothing to drop it.
  using Step = std::function<std::vector<std::optional<TimePoint>>(const Batch&)>;
  // The owner, kept alive across a Step (a Step may drop the owner's last reference
  // elsewhere); null once it is being destroyed.
  using LockOwner = std::function<std::shared_ptr<void>()>;

  // `renew` runs on the renewal thread; with `batch`, leases due within an eighth of
  // their renewal interval of a due one join its batch (so that renewals go to the store
  // together). `check` runs on the watchdog, one lease at a time. `clock` outlives this.
  Renewer(Clock& clock, bool batch, Step renew, Step check, LockOwner owner);
  // Stops and joins the threads. May run on one of them (a Step dropped the owner's last
  // reference): that thread is detached instead, and touches nothing of this object
  // afterwards.
  ~Renewer();

  // Queues `held` for renewal at `renew` and for the loss check at `loss`.
  void Schedule(const std::shared_ptr<HeldLock>& held, TimePoint renew, TimePoint loss)
      EXCLUDES(mu_);
  // Takes `held` out of both queues.
  void Unschedule(HeldLock& held) EXCLUDES(mu_);

  // At most this many leases go to one Step.
  static constexpr std::size_t kMaxBatch = 1024;

 private:
  enum class Queue { kRenew, kWatch };
  // The loop of both threads: runs the queue's Step on the entries that fall due, and
  // queues each again at the time the Step returns for it, if any. The first entry of a
  // batch is always due, so a thread never runs ahead of its queue. It sleeps until the
  // first entry is due, or for kIdleWake when there is none, and keeps that time in its
  // wake time (so that Schedule need not wake it for a later entry).
  void Loop(Queue which, std::stop_token stop) EXCLUDES(mu_);
  RenewSlots& SlotsOf(HeldLock& held) REQUIRES(mu_) { return held.slots; }

  Clock& clock_;
  const bool batch_;
  const Step renew_;
  const Step check_;
  const LockOwner owner_;

  Mutex mu_;
  std::condition_variable_any cv_;
  RenewQueue renew_queue_ GUARDED_BY(mu_);  // renewals due
  RenewQueue loss_queue_ GUARDED_BY(mu_);   // loss points to check
  // When each thread wakes next unless notified. An idle thread looks again every
  // kIdleWake, so that a lease due later than that, the usual case, is queued without
  // waking anyone: no context switch per acquire.
  static constexpr std::chrono::seconds kIdleWake{1};
  TimePoint renew_wake_ GUARDED_BY(mu_) = TimePoint::min();
  TimePoint watch_wake_ GUARDED_BY(mu_) = TimePoint::min();
  std::jthread watchdog_;      // started with renew_thread_
  std::jthread renew_thread_;  // started under mu_; declared last: joined first
};

}  // namespace dlock::internal

#endif  // DLOCK_SRC_CORE_RENEWER_H_
