#include "core/held_lock.h"

#include <algorithm>
#include <atomic>

namespace dlock::internal {

ThreadSerial ThisThreadSerial() {
  static std::atomic<ThreadSerial> next{kNoThread + 1};
  thread_local const ThreadSerial serial = next.fetch_add(1, std::memory_order_relaxed);
  return serial;
}

std::chrono::milliseconds LossMargin(std::chrono::milliseconds ttl) {
  return std::min<std::chrono::milliseconds>(ttl / 10, std::chrono::seconds(1));
}

HeldLock::HeldLock(Lease lease, bool auto_renew_, bool reentrant_, ThreadSerial holder_,
                   std::chrono::milliseconds interval_, TimePoint acquired_at_)
    : granted(std::move(lease)),
      auto_renew(auto_renew_),
      reentrant(reentrant_),
      holder(holder_),
      interval(interval_),
      acquired_at(acquired_at_),
      valid_until_(granted.valid_until.time_since_epoch().count()) {}

Lease HeldLock::lease() const {
  Lease current = granted;
  current.valid_until = valid_until();
  return current;
}

}  // namespace dlock::internal
