// The wait line (QueueingBackend), on every backend that offers one: once someone waits,
// a free lock goes to the first in line, not to whoever asks first. What depends on a
// manual clock or on the file format (a waiter's place lapsing, the line in a lock file)
// is in tests/unit/lock_record_test.cc and file_backend_test.cc.
#include <chrono>

#include "conformance/backend_conformance.h"
#include "dlock/locker.h"
#include "dlock/queueing_backend.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// `request`, joining the line (or keeping its place in it) when the lock is not free.
AcquireRequest Queued(AcquireRequest request) {
  request.queue = true;
  return request;
}

}  // namespace

TEST_P(BackendConformance, AFreeLockGoesToTheFirstInLine) {
  if (!backend_->queueing()) GTEST_SKIP() << "no wait line";
  auto name = Name();
  auto holder = backend_->TryAcquire(Queued(Request(name)));
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  auto b = Queued(Request(name)), c = Queued(Request(name));
  EXPECT_EQ(backend_->TryAcquire(b).status().code(), Code::kContended);
  EXPECT_EQ(backend_->TryAcquire(c).status().code(), Code::kContended);
  EXPECT_EQ(backend_->Inspect(name)->waiters, 2);
  ASSERT_TRUE(backend_->Release(*holder).ok());
  // c asks first, but b is ahead; a request that does not wait cannot barge in either.
  EXPECT_EQ(backend_->TryAcquire(c).status().code(), Code::kContended);
  EXPECT_EQ(backend_->TryAcquire(Request(name)).status().code(), Code::kContended);
  auto got_b = backend_->TryAcquire(b);
  ASSERT_TRUE(got_b.ok()) << got_b.status().ToString();
  EXPECT_EQ(backend_->Inspect(name)->waiters, 1);
  ASSERT_TRUE(backend_->Release(*got_b).ok());
  EXPECT_TRUE(backend_->TryAcquire(c).ok());
  EXPECT_EQ(backend_->Inspect(name)->waiters, 0);
}

TEST_P(BackendConformance, LeavingTheQueueLetsTheNextOneIn) {
  if (!backend_->queueing()) GTEST_SKIP() << "no wait line";
  auto name = Name();
  auto holder = backend_->TryAcquire(Queued(Request(name)));
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  auto quitter = Queued(Request(name)), next = Queued(Request(name));
  ASSERT_EQ(backend_->TryAcquire(quitter).status().code(), Code::kContended);
  ASSERT_EQ(backend_->TryAcquire(next).status().code(), Code::kContended);
  ASSERT_TRUE(backend_->Release(*holder).ok());
  QueueingBackend& line = *backend_->queueing();
  ASSERT_TRUE(line.LeaveQueue(name, quitter.owner_id).ok());
  EXPECT_TRUE(backend_->TryAcquire(next).ok());
  EXPECT_TRUE(line.LeaveQueue(name, quitter.owner_id).ok());  // idempotent
  EXPECT_TRUE(line.LeaveQueue(Name("-never-used"), quitter.owner_id).ok());
}

TEST_P(BackendConformance, AWaiterAheadInLineMakesOthersWaitForAChange) {
  if (!backend_->queueing()) GTEST_SKIP() << "no wait line";
  auto name = Name();
  auto holder = backend_->TryAcquire(Queued(Request(name)));
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  auto first = Queued(Request(name)), second = Queued(Request(name));
  ASSERT_EQ(backend_->TryAcquire(first).status().code(), Code::kContended);
  ASSERT_EQ(backend_->TryAcquire(second).status().code(), Code::kContended);
  ASSERT_TRUE(backend_->Release(*holder).ok());
  // Free, but `first` is next: `second` does not return at once, only at its deadline...
  QueueingBackend& line = *backend_->queueing();
  auto deadline = std::chrono::steady_clock::now() + milliseconds(100);
  EXPECT_EQ(line.WaitForTurn(second, deadline, {}).status().code(), Code::kDeadlineExceeded);
  // ...while `first` does.
  EXPECT_TRUE(line.WaitForTurn(first, std::chrono::steady_clock::now() + seconds(10), {}).ok());
}

TEST_P(BackendConformance, AGivingUpWaiterLeavesTheLine) {
  if (!backend_->queueing()) GTEST_SKIP() << "no wait line";
  auto name = Name();
  Locker locker(backend_);
  Locker other(GetParam().make());  // another holder: `locker` would refuse a self-deadlock
  auto holder = other.Acquire(name, {.auto_renew = false});
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  auto gave_up = locker.Acquire(name, {.wait = milliseconds(100), .auto_renew = false});
  EXPECT_EQ(gave_up.status().code(), Code::kDeadlineExceeded);
  EXPECT_EQ(backend_->Inspect(name)->waiters, 0);
}

}  // namespace dlock::test
