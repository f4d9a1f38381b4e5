// clock.h: the time source behind every wait, sleep and validity check in dlock.
//
// Production code uses SystemClock() (std::chrono::steady_clock). Tests inject
// testing::ManualClock, so that TTLs, backoff and renewal never sleep for real.
//
// Thread-safety: implementations are safe for concurrent use.
#ifndef DLOCK_CLOCK_H_
#define DLOCK_CLOCK_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>

#include "dlock/export.h"

namespace dlock {

class DLOCK_API Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;

  virtual TimePoint Now() const = 0;

  // Blocks until pred() is true, Now() reaches `deadline`, or `stop` is requested,
  // whichever comes first, and returns pred(). `lock` holds the mutex guarding pred's
  // state; whoever changes that state notifies `cv`. TimePoint::max() waits forever.
  virtual bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable_any& cv,
                         TimePoint deadline, std::stop_token stop,
                         const std::function<bool()>& pred) = 0;

  // Sleeps until `deadline` on this clock. Returns false if `stop` cut the sleep short.
  bool SleepUntil(TimePoint deadline, std::stop_token stop = {});
};

// The process-wide steady_clock-based clock.
DLOCK_API std::shared_ptr<Clock> SystemClock();

}  // namespace dlock

#endif  // DLOCK_CLOCK_H_
