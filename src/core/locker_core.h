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
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

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
  Lease lease;              // guarded by mu
  Status lost_reason;       // guarded by mu; set when state becomes kLost
  Status last_renew_error;  // guarded by mu; reset by a successful renewal
  std::atomic<HeldState> state{HeldState::kHeld};
  std::atomic<TimePoint::rep> valid_until{0};  // mirrors lease.valid_until
  bool auto_renew = true;                      // constant after construction
  std::chrono::milliseconds interval{0};       // constant after construction
  TimePoint acquired_at{};                     // constant after construction
  std::stop_source lost;
  std::optional<RenewQueue::iterator> slot;  // guarded by LockerCore::queue_mu_
};

class LockerCore {
 public:
  LockerCore(std::shared_ptr<Backend> backend, LockerOptions options);
  ~LockerCore();  // stops and joins the renewal thread

  Backend& backend() const { return *backend_; }
  const LockerOptions& options() const { return options_; }
  Clock& clock() const { return *options_.clock; }

  Result<std::shared_ptr<HeldLock>> Acquire(std::string_view name, const AcquireOptions& options);
  Status Release(HeldLock& held);
  Lease Detach(HeldLock& held);
  void Emit(EventKind kind, std::string_view name, FencingToken token,
            std::chrono::nanoseconds elapsed, Status status = OkStatus()) const;

 private:
  // Queues `held` for service at `when` and starts the thread if needed.
  void Schedule(const std::shared_ptr<HeldLock>& held, TimePoint when);
  void Unschedule(HeldLock& held);
  void Run(std::stop_token stop);
  // Renews (or checks) one lease; returns when to look at it next, or nothing.
  std::optional<TimePoint> Service(const std::shared_ptr<HeldLock>& held);

  const std::shared_ptr<Backend> backend_;
  const LockerOptions options_;

  std::mutex queue_mu_;
  std::condition_variable_any queue_cv_;
  RenewQueue queue_;     // guarded by queue_mu_
  std::jthread thread_;  // started lazily under queue_mu_; declared last: joined first
};

// How long before valid_until a lease that could not be renewed is declared lost.
std::chrono::milliseconds LossMargin(std::chrono::milliseconds ttl);

}  // namespace dlock::internal

#endif  // DLOCK_SRC_CORE_LOCKER_CORE_H_
