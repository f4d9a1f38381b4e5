// backoff.h: exponential backoff with full jitter, as a pure, testable value.
//
// Thread-safety: a Backoff is not synchronized; use one per waiting call.
#ifndef DLOCK_BACKOFF_H_
#define DLOCK_BACKOFF_H_

#include <chrono>
#include <cstdint>
#include <random>

#include "dlock/export.h"

namespace dlock {

struct DLOCK_API BackoffOptions {
  // The cap of the first delay.
  std::chrono::milliseconds initial{10};
  // No delay exceeds this cap.
  std::chrono::milliseconds max{1000};
  // The cap grows by this factor per attempt. Must be >= 1.
  double multiplier = 2.0;
  // Full jitter: each delay is uniform in [0, cap]. false: each delay is the cap.
  bool full_jitter = true;
};

class DLOCK_API Backoff {
 public:
  // `seed` makes the jitter reproducible in tests; Locker seeds from the OS.
  explicit Backoff(const BackoffOptions& options, std::uint64_t seed);

  // The delay before the next attempt: uniform in [0, cap] with full jitter, where
  // cap = min(max, initial * multiplier^n) and n counts calls since Reset().
  std::chrono::microseconds Next();

  // The cap the next call to Next() draws under.
  std::chrono::microseconds cap() const { return cap_; }

  void Reset();

 private:
  BackoffOptions options_;
  std::chrono::microseconds cap_;
  std::mt19937_64 rng_;
};

}  // namespace dlock

#endif  // DLOCK_BACKOFF_H_
