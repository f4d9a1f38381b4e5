// The waiter's place in line of the backends that keep their own lock records (memory,
// file; core/lock_record.h): it lapses unless the waiter asks again within its lease
// (internal::kWaiterLease). The line's semantics on every store are in the conformance
// suite (tests/conformance/queue_conformance.cc).
#include <gtest/gtest.h>

#include "dlock/backends/file.h"
#include "dlock/backends/memory.h"
#include "dlock/testing/manual_clock.h"
#include "test_util.h"

namespace dlock {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

AcquireRequest Waiting(std::string owner_suffix) {
  AcquireRequest r{"q", seconds(30), NewOwnerId().substr(0, 24) + owner_suffix, {}};
  r.queue = true;
  return r;
}

// Two waiters in line behind a holder that releases; only `alive` asks again, within its
// 3 s lease and then after `dead`'s ran out: the lock goes to it. `clock` is `backend`'s.
void AWaiterThatStopsAskingLosesItsPlace(Backend& backend, testing::ManualClock& clock) {
  auto holder = backend.TryAcquire(Waiting("holder"));
  auto dead = Waiting("dead"), alive = Waiting("alive");
  ASSERT_EQ(backend.TryAcquire(dead).status().code(), Code::kContended);
  ASSERT_EQ(backend.TryAcquire(alive).status().code(), Code::kContended);
  ASSERT_TRUE(backend.Release(*holder).ok());
  clock.Advance(milliseconds(2000));
  EXPECT_EQ(backend.TryAcquire(alive).status().code(), Code::kContended);  // renews its place
  clock.Advance(milliseconds(1001));  // `dead` did not ask again within its lease
  EXPECT_TRUE(backend.TryAcquire(alive).ok());
}

TEST(MemoryWaiterLeaseTest, AWaiterThatStopsAskingLosesItsPlace) {
  auto clock = std::make_shared<testing::ManualClock>();
  auto backend = MakeMemoryBackend({.clock = clock});
  AWaiterThatStopsAskingLosesItsPlace(*backend, *clock);
}

TEST(FileWaiterLeaseTest, AWaiterThatStopsAskingLosesItsPlace) {
  auto clock = std::make_shared<testing::ManualClock>();
  test::TempDir dir;
  auto backend = MakeFileBackend({.dir = dir.path(), .clock = clock});
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  AWaiterThatStopsAskingLosesItsPlace(**backend, *clock);
}

}  // namespace
}  // namespace dlock
