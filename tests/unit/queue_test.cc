// The FIFO wait queue of the backends that keep their own records (memory, file): once
// someone waits, a free lock goes to the first in line, not to whoever asks first.
#include <gtest/gtest.h>

#include <thread>

#include "dlock/backends/file.h"
#include "dlock/backends/memory.h"
#include "dlock/locker.h"
#include "dlock/queueing_backend.h"
#include "dlock/testing/manual_clock.h"
#include "file/record_format.h"
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

class QueueTest : public ::testing::TestWithParam<bool> {  // true: file backend
 protected:
  void SetUp() override {
    if (GetParam()) {
      backend_ = *MakeFileBackend({.dir = dir_.path(), .clock = clock_});
    } else {
      backend_ = MakeMemoryBackend({.clock = clock_});
    }
  }
  std::shared_ptr<testing::ManualClock> clock_ = std::make_shared<testing::ManualClock>();
  test::TempDir dir_;
  std::shared_ptr<Backend> backend_;
};

INSTANTIATE_TEST_SUITE_P(Backends, QueueTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "file" : "memory";
                         });

TEST_P(QueueTest, AFreeLockGoesToTheFirstInLine) {
  auto holder = backend_->TryAcquire(Waiting("holder"));
  ASSERT_TRUE(holder.ok());
  auto b = Waiting("b"), c = Waiting("c");
  EXPECT_EQ(backend_->TryAcquire(b).status().code(), Code::kContended);
  EXPECT_EQ(backend_->TryAcquire(c).status().code(), Code::kContended);
  EXPECT_EQ(backend_->Inspect("q")->waiters, 2);
  ASSERT_TRUE(backend_->Release(*holder).ok());
  // c asks first, but b is ahead; a request that does not wait cannot barge in either.
  EXPECT_EQ(backend_->TryAcquire(c).status().code(), Code::kContended);
  AcquireRequest barging{"q", seconds(30), NewOwnerId(), {}};
  EXPECT_EQ(backend_->TryAcquire(barging).status().code(), Code::kContended);
  auto got_b = backend_->TryAcquire(b);
  ASSERT_TRUE(got_b.ok());
  EXPECT_EQ(backend_->Inspect("q")->waiters, 1);
  ASSERT_TRUE(backend_->Release(*got_b).ok());
  EXPECT_TRUE(backend_->TryAcquire(c).ok());
  EXPECT_EQ(backend_->Inspect("q")->waiters, 0);
}

TEST_P(QueueTest, AWaiterThatStopsAskingLosesItsPlace) {
  auto holder = backend_->TryAcquire(Waiting("holder"));
  auto dead = Waiting("dead"), alive = Waiting("alive");
  ASSERT_EQ(backend_->TryAcquire(dead).status().code(), Code::kContended);
  ASSERT_EQ(backend_->TryAcquire(alive).status().code(), Code::kContended);
  ASSERT_TRUE(backend_->Release(*holder).ok());
  clock_->Advance(milliseconds(2000));
  EXPECT_EQ(backend_->TryAcquire(alive).status().code(), Code::kContended);  // renews its place
  clock_->Advance(milliseconds(1001));  // `dead` did not ask again within its lease
  EXPECT_TRUE(backend_->TryAcquire(alive).ok());
}

TEST_P(QueueTest, LeavingTheQueueLetsTheNextOneIn) {
  auto holder = backend_->TryAcquire(Waiting("holder"));
  auto quitter = Waiting("quitter"), next = Waiting("next");
  ASSERT_EQ(backend_->TryAcquire(quitter).status().code(), Code::kContended);
  ASSERT_EQ(backend_->TryAcquire(next).status().code(), Code::kContended);
  ASSERT_TRUE(backend_->Release(*holder).ok());
  ASSERT_TRUE(backend_->queueing()->LeaveQueue("q", quitter.owner_id).ok());
  EXPECT_TRUE(backend_->TryAcquire(next).ok());
  EXPECT_TRUE(backend_->queueing()->LeaveQueue("q", quitter.owner_id).ok());  // idempotent
  EXPECT_TRUE(backend_->queueing()->LeaveQueue("never-used", quitter.owner_id).ok());
}

TEST_P(QueueTest, AWaiterAheadInLineMakesOthersWaitForAChange) {
  auto holder = backend_->TryAcquire(Waiting("holder"));
  auto first = Waiting("first"), second = Waiting("second");
  ASSERT_EQ(backend_->TryAcquire(first).status().code(), Code::kContended);
  ASSERT_EQ(backend_->TryAcquire(second).status().code(), Code::kContended);
  ASSERT_TRUE(backend_->Release(*holder).ok());
  // Free, but `first` is next: `second` does not return at once, only at its deadline
  // (which another thread brings, the clock being manual)...
  auto deadline = clock_->Now() + milliseconds(100);
  std::thread later([&] {
    std::this_thread::sleep_for(milliseconds(50));
    clock_->Advance(milliseconds(200));
  });
  EXPECT_EQ(backend_->queueing()->WaitForTurn(second, deadline, {}).status().code(),
            Code::kDeadlineExceeded);
  later.join();
  // ...while `first` does.
  EXPECT_TRUE(backend_->queueing()->WaitForTurn(first, clock_->Now() + seconds(10), {}).ok());
}

TEST(QueueLockerTest, AGivingUpWaiterLeavesTheLine) {
  auto clock = std::make_shared<testing::ManualClock>();
  auto backend = MakeMemoryBackend({.clock = clock});
  Locker locker(backend, {.clock = clock});
  auto holder = locker.Acquire("q", {.auto_renew = false});
  ASSERT_TRUE(holder.ok());
  clock->SetAutoAdvance(true);
  auto gave_up = locker.Acquire("q", {.wait = milliseconds(500), .auto_renew = false});
  EXPECT_EQ(gave_up.status().code(), Code::kDeadlineExceeded);
  EXPECT_EQ(backend->Inspect("q")->waiters, 0);
}

TEST(QueueFormatTest, TheLineSurvivesTheFileFormat) {
  internal::LockRecord r;
  r.name = "q";
  r.queue = {{"a1", std::chrono::steady_clock::time_point(seconds(5))},
             {"b2", std::chrono::steady_clock::time_point(seconds(6))}};
  internal::LockRecord back;
  ASSERT_TRUE(internal::ParseRecord(internal::SerializeRecord(r, "boot"), "boot", back).ok());
  ASSERT_EQ(back.queue.size(), 2u);
  EXPECT_EQ(back.queue[0].owner, "a1");
  EXPECT_EQ(back.queue[1].expires, std::chrono::steady_clock::time_point(seconds(6)));
  internal::LockRecord other_boot;
  ASSERT_TRUE(internal::ParseRecord(internal::SerializeRecord(r, "old"), "new", other_boot).ok());
  EXPECT_TRUE(other_boot.queue.empty());
}

}  // namespace
}  // namespace dlock
