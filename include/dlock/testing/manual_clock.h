// testing/manual_clock.h: a Clock that moves only when a test says so, so that TTLs,
// backoff and renewal are tested without sleeping through them.
//
// Waiters on a ManualClock re-check their condition every millisecond of real time (a
// test-only cost), so Advance() is seen promptly by other threads.
//
// Thread-safety: safe for concurrent use.
#ifndef DLOCK_TESTING_MANUAL_CLOCK_H_
#define DLOCK_TESTING_MANUAL_CLOCK_H_

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "dlock/clock.h"
#include "dlock/export.h"

namespace dlock::testing {

class DLOCK_API ManualClock final : public Clock {
 public:
  // Starts at an arbitrary, fixed point (not the epoch, so that "start - d" is valid).
  ManualClock();

  TimePoint Now() const override;
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable_any& cv,
                 TimePoint deadline, std::stop_token stop,
                 const std::function<bool()>& pred) override;

  void Advance(std::chrono::nanoseconds d);

  // Auto-advance for waits on the calling thread: such a wait whose condition is false
  // jumps the clock to its own deadline at once (unless the deadline is
  // TimePoint::max()). Makes a Locker::Acquire that waits run instantly; other threads
  // (a renewal thread) still wait for Advance(). false turns it off.
  void SetAutoAdvance(bool on);

  // Each wait's length (deadline - Now() at its start, for finite deadlines), in order.
  std::vector<std::chrono::nanoseconds> waits() const;
  // How many threads wait on this clock right now.
  int waiters() const { return waiters_; }

  // The earliest deadline after `t` among the waits in progress, if any: where a test
  // moves the clock to run the next timed step of a background thread.
  std::optional<TimePoint> NextDeadlineAfter(TimePoint t) const;

 private:
  std::atomic<TimePoint::rep> now_;
  std::atomic<int> waiters_{0};
  mutable std::mutex mu_;
  std::optional<std::thread::id> auto_advance_thread_;  // guarded by mu_
  std::vector<std::chrono::nanoseconds> waits_;         // guarded by mu_
  std::multiset<TimePoint> deadlines_;                  // guarded by mu_
};

}  // namespace dlock::testing

#endif  // DLOCK_TESTING_MANUAL_CLOCK_H_
