#include "dlock/testing/manual_clock.h"

namespace dlock::testing {

ManualClock::ManualClock()
    : now_((TimePoint() + std::chrono::hours(1000)).time_since_epoch().count()) {}

Clock::TimePoint ManualClock::Now() const { return TimePoint(TimePoint::duration(now_.load())); }

void ManualClock::Advance(std::chrono::nanoseconds d) {
  now_ += std::chrono::duration_cast<TimePoint::duration>(d).count();
}

void ManualClock::SetAutoAdvance(bool on) {
  std::lock_guard lock(mu_);
  if (on) {
    auto_advance_thread_ = std::this_thread::get_id();
  } else {
    auto_advance_thread_.reset();
  }
}

std::optional<Clock::TimePoint> ManualClock::NextDeadlineAfter(TimePoint t) const {
  std::lock_guard lock(mu_);
  auto it = deadlines_.upper_bound(t);
  if (it == deadlines_.end()) return std::nullopt;
  return *it;
}

std::vector<std::chrono::nanoseconds> ManualClock::waits() const {
  std::lock_guard lock(mu_);
  return waits_;
}

bool ManualClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable_any& cv,
                            TimePoint deadline, std::stop_token stop,
                            const std::function<bool()>& pred) {
  bool auto_advance = false;
  {
    std::lock_guard guard(mu_);
    if (deadline != TimePoint::max()) {
      waits_.push_back(deadline - Now());
      deadlines_.insert(deadline);
    }
    auto_advance = auto_advance_thread_ == std::this_thread::get_id();
  }
  ++waiters_;
  while (!pred() && !stop.stop_requested()) {
    TimePoint now = Now();
    if (now >= deadline) break;
    if (auto_advance && deadline != TimePoint::max()) {
      // Move forward only, even if another thread advanced meanwhile.
      auto target = deadline.time_since_epoch().count();
      auto current = now_.load();
      while (current < target && !now_.compare_exchange_weak(current, target)) {
      }
      continue;
    }
    cv.wait_for(lock, stop, std::chrono::milliseconds(1), pred);
  }
  --waiters_;
  if (deadline != TimePoint::max()) {
    std::lock_guard guard(mu_);
    deadlines_.erase(deadlines_.find(deadline));
  }
  return pred();
}

}  // namespace dlock::testing
