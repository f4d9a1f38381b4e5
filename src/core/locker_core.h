// locker_core.h: the state a Locker shares with its Locks: the backend, the options, the
// one renewal thread, and each held lease (HeldLock).
//
// Thread-safety: LockerCore is safe for concurrent use. A HeldLock's lease changes only
// under its mu; state and valid_until are atomics so held() never blocks.
#ifndef DLOCK_SRC_CORE_LOCKER_CORE_H_
#define DLOCK_SRC_CORE_LOCKER_CORE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>

#include "core/async_scope.h"
#include "dlock/async_backend.h"
#include "dlock/locker.h"

namespace dlock::internal {

using TimePoint = std::chrono::steady_clock::time_point;

enum class HeldState { kHeld, kReleased, kDetached, kLost };

struct HeldLock;
using RenewQueue = std::multimap<TimePoint, std::weak_ptr<HeldLock>>;

struct HeldLock {
  // Serializes renewal calls with Release/Detach, so that a late renewal can never
  // extend a lease after it was released.
  std::mutex mu;
  Lease lease;  // guarded by mu
  // A renewal call is in flight (guarded by mu); Release and Detach wait on
  // renewal_done until it is over. (A flag, not mu held across the call: a batch renews
  // many leases at once.)
  bool renewing = false;
  std::condition_variable renewal_done;
  // A ReleaseAsync that came while a renewal call was in flight (guarded by mu): marked
  // released at once, and its store call run by the renewal thread once the renewal call
  // is over, as ReleaseAsync cannot wait for it. At most one: a later release finds the
  // lock released already.
  std::function<void()> release_after_renewal;
  // Locks mu once no renewal call is in flight (for Release and Detach).
  std::unique_lock<std::mutex> LockWhenNotRenewing() {
    std::unique_lock lock(mu);
    renewal_done.wait(lock, [this] { return !renewing; });
    return lock;
  }
  // Guards the two statuses below; never held across a store call, so the watchdog can
  // declare a loss while a renewal call hangs.
  std::mutex reason_mu;
  Status lost_reason;            // guarded by reason_mu; set when state becomes kLost
  Status last_renew_error;       // guarded by reason_mu; reset by a successful renewal
  bool store_said_gone = false;  // guarded by reason_mu: a renewal answered not-held
  std::atomic<HeldState> state{HeldState::kHeld};
  std::atomic<TimePoint::rep> valid_until{0};  // mirrors lease.valid_until
  bool auto_renew = true;                      // constant after construction
  std::chrono::milliseconds interval{0};       // constant after construction
  TimePoint acquired_at{};                     // constant after construction
  std::stop_source lost;
  std::optional<RenewQueue::iterator> slot;   // guarded by LockerCore::queue_mu_
  std::optional<RenewQueue::iterator> watch;  // guarded by LockerCore::queue_mu_
};

class LockerCore : public std::enable_shared_from_this<LockerCore> {
 public:
  LockerCore(std::shared_ptr<Backend> backend, LockerOptions options);
  // Stops and joins the threads. May run on one of them (a lost() callback dropped the
  // last Lock after the Locker was gone): that thread is detached instead, and touches
  // nothing of this object afterwards.
  ~LockerCore();

  Backend& backend() const { return *backend_; }
  const LockerOptions& options() const { return options_; }
  Clock& clock() const { return *options_.clock; }

  Result<std::shared_ptr<HeldLock>> Acquire(std::string_view name, const AcquireOptions& options);
  // Acquire's one attempt without blocking (see Locker::TryAcquireAsync); `done` runs
  // within an AsyncCallbackScope.
  using HeldCallback = std::function<void(Result<std::shared_ptr<HeldLock>>)>;
  void TryAcquireAsync(std::string_view name, const AcquireOptions& options, HeldCallback done);
  Status Release(HeldLock& held);
  // See Lock::ReleaseAsync; `done` (not null) runs within an AsyncCallbackScope.
  void ReleaseAsync(const std::shared_ptr<HeldLock>& held, StatusCallback done);
  Lease Detach(HeldLock& held);
  void Emit(EventKind kind, std::string_view name, FencingToken token,
            std::chrono::nanoseconds elapsed, Status status = OkStatus()) const;

 private:
  // The request for an acquisition of `name`, validated.
  Result<AcquireRequest> MakeRequest(std::string_view name, const AcquireOptions& options) const;
  // A lease granted to an acquisition that started at `start`: held, announced, queued
  // for renewal.
  std::shared_ptr<HeldLock> Granted(Lease lease, const AcquireOptions& options, TimePoint start);
  // Release's first step, with held.mu locked: marks `held`
  // released. `free`: the lease to free in the store; `answer`: what to return whatever
  // the store says (no lease to free, or a lost one freed for good measure); neither
  // set: return the store's answer, reported as a kReleased event.
  struct ReleasePlan {
    std::optional<Lease> free;
    std::optional<Status> answer;
  };
  ReleasePlan PlanRelease(HeldLock& held);
  // ReleaseAsync's second step, without held.mu: frees plan.free and answers `done`.
  void SendRelease(const std::shared_ptr<HeldLock>& held, const ReleasePlan& plan,
                   StatusCallback done);
  // Queues `held` for renewal at `when` and for the loss check at its loss point, and
  // starts the threads if needed.
  void Schedule(const std::shared_ptr<HeldLock>& held, TimePoint when);
  void Unschedule(HeldLock& held);
  // The renewal thread.
  void Run(std::stop_token stop);
  // The watchdog: declares a lease lost at its loss point unless it was renewed, even
  // while the renewal thread is stuck in a store call that has not timed out yet.
  void Watch(std::stop_token stop);
  // The loop of both threads: runs `step` on the entries of `queue` that fall due
  // (without queue_mu_), and queues each again at the time `step` returns for it, if
  // any. With `early`, entries due within an eighth of their renewal interval join a
  // batch that is due (so that renewals go to the store together); the first is always
  // due, so a thread never runs ahead of its queue. It sleeps until the first entry is
  // due, or for kIdleWake when there is none, and keeps that time in `*wake` (so
  // Schedule need not wake it for a later entry).
  using Batch = std::vector<std::shared_ptr<HeldLock>>;
  using Step = std::function<std::vector<std::optional<TimePoint>>(const Batch&)>;
  void Loop(RenewQueue& queue, std::optional<RenewQueue::iterator> HeldLock::*slot, TimePoint* wake,
            bool early, std::stop_token stop, const Step& step);
  // The watchdog's step, per lease: the new loss point if renewed meanwhile, else
  // declares the loss.
  std::optional<TimePoint> CheckLoss(const std::shared_ptr<HeldLock>& held);
  // kHeld -> kLost, once; then the event and lost(). Call without held.mu.
  void DeclareLost(HeldLock& held, Status reason);
  // Renews (or checks) a batch of leases with one Backend::ExtendMany; returns when to
  // look at each next, or nothing.
  std::vector<std::optional<TimePoint>> Service(const Batch& batch);
  // At most this many leases go to the store in one ExtendMany.
  static constexpr std::size_t kMaxBatch = 1024;

  const std::shared_ptr<Backend> backend_;
  const LockerOptions options_;

  std::mutex queue_mu_;
  std::condition_variable_any queue_cv_;
  RenewQueue queue_;       // guarded by queue_mu_: renewals due
  RenewQueue loss_queue_;  // guarded by queue_mu_: loss points to check
  // When each thread wakes next unless notified (guarded by queue_mu_). An idle thread
  // looks again every kIdleWake, so that a lease due later than that, the usual case,
  // is queued without waking anyone: no context switch per acquire.
  static constexpr std::chrono::seconds kIdleWake{1};
  TimePoint renew_wake_ = TimePoint::min();
  TimePoint watch_wake_ = TimePoint::min();
  std::jthread watchdog_;  // started with thread_
  std::jthread thread_;    // started lazily under queue_mu_; declared last: joined first
};

// How long before valid_until a lease that could not be renewed is declared lost.
std::chrono::milliseconds LossMargin(std::chrono::milliseconds ttl);

}  // namespace dlock::internal

#endif  // DLOCK_SRC_CORE_LOCKER_CORE_H_
