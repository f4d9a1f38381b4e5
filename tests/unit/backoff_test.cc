#include "dlock/backoff.h"

#include <gtest/gtest.h>

#include <set>

namespace dlock {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(BackoffTest, CapGrowsExponentiallyUpToMax) {
  Backoff b({.initial = milliseconds(10),
             .max = milliseconds(100),
             .multiplier = 2.0,
             .full_jitter = false},
            1);
  std::vector<microseconds> got;
  for (int i = 0; i < 6; ++i) got.push_back(b.Next());
  std::vector<microseconds> want = {milliseconds(10), milliseconds(20),  milliseconds(40),
                                    milliseconds(80), milliseconds(100), milliseconds(100)};
  EXPECT_EQ(got, want);
}

TEST(BackoffTest, FullJitterStaysWithinCapAndSpreads) {
  Backoff b({.initial = milliseconds(10), .max = milliseconds(1000), .multiplier = 2.0}, 42);
  std::set<microseconds::rep> seen;
  for (int i = 0; i < 200; ++i) {
    microseconds cap = b.cap();
    microseconds d = b.Next();
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d, cap);
    EXPECT_LE(d, milliseconds(1000));
    seen.insert(d.count());
  }
  // Jitter: delays are not all the same value (200 draws from up to a million values).
  EXPECT_GT(seen.size(), 150u);
}

TEST(BackoffTest, ResetStartsOver) {
  Backoff b({.initial = milliseconds(5), .max = milliseconds(50), .full_jitter = false}, 1);
  b.Next();
  b.Next();
  EXPECT_EQ(b.cap(), milliseconds(20));
  b.Reset();
  EXPECT_EQ(b.Next(), milliseconds(5));
}

TEST(BackoffTest, SameSeedSameSequence) {
  BackoffOptions o;
  Backoff a(o, 7), b(o, 7);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.Next(), b.Next());
}

TEST(BackoffTest, MultiplierBelowOneIsTreatedAsOne) {
  Backoff b({.initial = milliseconds(10),
             .max = milliseconds(100),
             .multiplier = 0.1,
             .full_jitter = false},
            1);
  EXPECT_EQ(b.Next(), milliseconds(10));
  EXPECT_EQ(b.Next(), milliseconds(10));
}

}  // namespace
}  // namespace dlock
