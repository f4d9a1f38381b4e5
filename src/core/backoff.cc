#include "dlock/backoff.h"

#include <algorithm>

namespace dlock {

Backoff::Backoff(const BackoffOptions& options, std::uint64_t seed)
    : options_(options), cap_(options.initial), rng_(seed) {
  options_.multiplier = std::max(1.0, options_.multiplier);
  if (options_.max < options_.initial) options_.max = options_.initial;
}

std::chrono::microseconds Backoff::Next() {
  std::chrono::microseconds cap = cap_;
  double grown = static_cast<double>(cap_.count()) * options_.multiplier;
  double limit = static_cast<double>(std::chrono::microseconds(options_.max).count());
  cap_ = std::chrono::microseconds(static_cast<std::int64_t>(std::min(grown, limit)));
  if (!options_.full_jitter || cap.count() <= 0) return cap;
  std::uniform_int_distribution<std::int64_t> dist(0, cap.count());
  return std::chrono::microseconds(dist(rng_));
}

void Backoff::Reset() { cap_ = options_.initial; }

}  // namespace dlock
