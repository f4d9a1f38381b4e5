#include "dlock/clock.h"

namespace dlock {
namespace {

class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }

  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable_any& cv,
                 TimePoint deadline, std::stop_token stop,
                 const std::function<bool()>& pred) override {
    if (deadline == TimePoint::max()) return cv.wait(lock, stop, pred);
    return cv.wait_until(lock, stop, deadline, pred);
  }
};

}  // namespace

bool Clock::SleepUntil(TimePoint deadline, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  WaitUntil(lock, cv, deadline, stop, [] { return false; });
  return !stop.stop_requested();
}

std::shared_ptr<Clock> SystemClock() {
  static const std::shared_ptr<Clock> clock = std::make_shared<SteadyClock>();
  return clock;
}

}  // namespace dlock
