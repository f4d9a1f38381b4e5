// Locker and Lock on the memory backend, with a ManualClock: nothing here sleeps
// through a TTL or a backoff.
#include "dlock/locker.h"

#include <dirent.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "dlock/backends/memory.h"
#include "dlock/queueing_backend.h"
#include "dlock/testing/faulty_backend.h"
#include "dlock/testing/manual_clock.h"
#include "test_util.h"

namespace dlock {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using test::WaitFor;
using testing::FaultyBackend;
using testing::ManualClock;
using testing::Op;

class RecordingListener : public EventListener {
 public:
  void OnEvent(const Event& e) override {
    std::lock_guard lock(mu_);
    kinds_.push_back(e.kind);
  }
  int count(EventKind kind) const {
    std::lock_guard lock(mu_);
    return static_cast<int>(std::count(kinds_.begin(), kinds_.end(), kind));
  }

 private:
  mutable std::mutex mu_;
  std::vector<EventKind> kinds_;
};

class LockerTest : public ::testing::Test {
 protected:
  LockerTest()
      : clock_(std::make_shared<ManualClock>()),
        memory_(MakeMemoryBackend({.clock = clock_})),
        faulty_(std::make_shared<FaultyBackend>(memory_)),
        listener_(std::make_shared<RecordingListener>()) {}

  std::unique_ptr<Locker> MakeLocker(milliseconds ttl = seconds(3)) {
    LockerOptions options;
    options.ttl = ttl;
    options.clock = clock_;
    options.listener = listener_;
    options.backoff = {.initial = milliseconds(10), .max = milliseconds(200)};
    return std::make_unique<Locker>(faulty_, options);
  }

  // Takes `name` directly in the store, as another process would.
  Lease HoldElsewhere(std::string name, milliseconds ttl = std::chrono::hours(1)) {
    auto lease = memory_->TryAcquire({std::move(name), ttl, NewOwnerId(), {}});
    EXPECT_TRUE(lease.ok());
    return lease.ok() ? *lease : Lease{};
  }

  // Once both background threads (renewal, watchdog) wait for a time still to come, moves
  // the clock to the earlier of their deadlines.
  void StepToNextDeadline() {
    std::optional<Clock::TimePoint> next;
    ASSERT_TRUE(WaitFor([&] {
      next = clock_->NextDeadlineAfter(Clock::TimePoint::min());
      return clock_->waiters() >= 2 && next && *next > clock_->Now();
    }));
    clock_->Advance(*next - clock_->Now());
  }

  std::shared_ptr<ManualClock> clock_;
  std::shared_ptr<Backend> memory_;
  std::shared_ptr<FaultyBackend> faulty_;
  std::shared_ptr<RecordingListener> listener_;
};

TEST_F(LockerTest, AcquireFreeLock) {
  auto locker = MakeLocker();
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_TRUE(lock->held());
  EXPECT_EQ(lock->token(), 1u);
  EXPECT_EQ(lock->lease().ttl, seconds(3));
  EXPECT_LT(lock->lease().valid_until, clock_->Now() + seconds(3));
  EXPECT_EQ(listener_->count(EventKind::kAcquired), 1);
}

TEST_F(LockerTest, ContendedWithoutWaitFailsAtOnce) {
  Lease holder = HoldElsewhere("a");
  auto locker = MakeLocker();
  auto lock = locker->Acquire("a");
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), Code::kContended);
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 1);
  EXPECT_EQ(listener_->count(EventKind::kAcquireFailed), 1);
}

TEST_F(LockerTest, PollingWaitGivesUpExactlyAtDeadline) {
  Lease holder = HoldElsewhere("a");
  faulty_->DisableNativeWait();
  clock_->SetAutoAdvance(true);
  auto locker = MakeLocker();
  auto start = clock_->Now();
  auto lock = locker->Acquire("a", {.wait = seconds(2), .auto_renew = false});
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), Code::kDeadlineExceeded);
  EXPECT_NE(lock.status().message().find("after waiting 2s"), std::string::npos);
  EXPECT_EQ(clock_->Now() - start, seconds(2));  // never past the deadline
  EXPECT_GT(faulty_->calls(Op::kTryAcquire), 10);
  EXPECT_EQ(listener_->count(EventKind::kWaiting), 1);
}

TEST_F(LockerTest, PollingSleepsFollowCappedExponentialBackoff) {
  Lease holder = HoldElsewhere("a");
  faulty_->DisableNativeWait();
  clock_->SetAutoAdvance(true);
  auto locker = MakeLocker();
  (void)locker->Acquire("a", {.wait = seconds(5), .auto_renew = false});
  auto waits = clock_->waits();
  ASSERT_GT(waits.size(), 10u);
  std::chrono::nanoseconds cap = milliseconds(10);
  std::set<std::chrono::nanoseconds::rep> distinct;
  for (std::size_t i = 0; i + 1 < waits.size(); ++i) {  // the last one is cut by the deadline
    EXPECT_LE(waits[i], cap) << "sleep " << i;
    cap = std::min<std::chrono::nanoseconds>(cap * 2, milliseconds(200));
    distinct.insert(waits[i].count());
  }
  EXPECT_GT(distinct.size(), waits.size() / 2);  // jittered, not a fixed schedule
}

TEST_F(LockerTest, NativeWaitIsWokenByRelease) {
  Lease holder = HoldElsewhere("a");
  auto locker = MakeLocker();
  std::optional<Result<Lock>> got;
  std::thread waiter([&] { got.emplace(locker->Acquire("a", {.wait = seconds(10)})); });
  ASSERT_TRUE(WaitFor([&] { return clock_->waiters() > 0; }));
  auto before = clock_->Now();
  ASSERT_TRUE(memory_->Release(holder).ok());
  waiter.join();
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  EXPECT_EQ((*got)->token(), 2u);
  EXPECT_EQ(clock_->Now(), before);  // woken by the release, not by time
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 2);
}

// Hands the lock over in WaitForTurn, as the Redis backend does at a release: the store
// grants it to the waiter in the same step, and the wait returns the grant.
class HandingOverBackend final : public Backend, public QueueingBackend {
 public:
  explicit HandingOverBackend(std::shared_ptr<Backend> inner) : inner_(std::move(inner)) {}
  Result<Lease> TryAcquire(const AcquireRequest& request) override {
    ++attempts;
    return inner_->TryAcquire(request);
  }
  Result<std::optional<Lease>> WaitForTurn(const AcquireRequest& request,
                                           std::chrono::steady_clock::time_point deadline,
                                           std::stop_token stop) override {
    DLOCK_RETURN_IF_ERROR(inner_->queueing()->WaitForTurn(request, deadline, stop).status());
    auto granted = inner_->TryAcquire(request);
    if (!granted.ok()) return std::optional<Lease>();
    return std::optional<Lease>(*granted);
  }
  Status LeaveQueue(std::string_view name, std::string_view owner_id) override {
    return inner_->queueing()->LeaveQueue(name, owner_id);
  }
  Result<Lease> Extend(const Lease& lease, milliseconds ttl) override {
    return inner_->Extend(lease, ttl);
  }
  Status Release(const Lease& lease) override { return inner_->Release(lease); }
  Status ForceRelease(std::string_view name) override { return inner_->ForceRelease(name); }
  Result<LockState> Inspect(std::string_view name) override { return inner_->Inspect(name); }
  Status WaitForRelease(std::string_view name, std::chrono::steady_clock::time_point deadline,
                        std::stop_token stop) override {
    return inner_->WaitForRelease(name, deadline, stop);
  }
  std::string_view kind() const override { return inner_->kind(); }
  QueueingBackend* queueing() override { return this; }

  std::atomic<int> attempts{0};

 private:
  std::shared_ptr<Backend> inner_;
};

TEST_F(LockerTest, ALockHandedOverInTheWaitIsTheGrant) {
  Lease holder = HoldElsewhere("a");
  auto backend = std::make_shared<HandingOverBackend>(memory_);
  LockerOptions options;
  options.clock = clock_;
  options.listener = listener_;
  Locker locker(backend, options);
  std::optional<Result<Lock>> got;
  std::thread waiter([&] { got.emplace(locker.Acquire("a", {.wait = seconds(10)})); });
  ASSERT_TRUE(WaitFor([&] { return clock_->waiters() > 0; }));
  ASSERT_TRUE(memory_->Release(holder).ok());
  waiter.join();
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  EXPECT_EQ((*got)->token(), 2u);
  EXPECT_TRUE((*got)->held());
  EXPECT_EQ(backend->attempts, 1);  // the first attempt; the grant came with the wait
  EXPECT_EQ(listener_->count(EventKind::kWaiting), 1);
  EXPECT_EQ(listener_->count(EventKind::kAcquired), 1);
  EXPECT_TRUE((*got)->Release().ok());
  EXPECT_FALSE(memory_->Inspect("a")->held);
}

TEST_F(LockerTest, ALockGrantedAfterALongWaitIsNotRenewedAtOnce) {
  Lease holder = HoldElsewhere("a");
  auto locker = MakeLocker(seconds(3));
  std::optional<Result<Lock>> got;
  std::thread waiter([&] { got.emplace(locker->Acquire("a", {.wait = seconds(60)})); });
  ASSERT_TRUE(WaitFor([&] { return clock_->waiters() > 0; }));
  clock_->Advance(seconds(10));  // far more than the renewal interval
  ASSERT_TRUE(memory_->Release(holder).ok());
  waiter.join();
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  // Both background threads wait for a time to come, and none renewed on the way.
  ASSERT_TRUE(WaitFor([&] {
    auto next = clock_->NextDeadlineAfter(Clock::TimePoint::min());
    return clock_->waiters() >= 2 && next && *next > clock_->Now();
  }));
  EXPECT_EQ(faulty_->calls(Op::kExtend), 0);
  StepToNextDeadline();
  EXPECT_TRUE(WaitFor([&] { return faulty_->calls(Op::kExtend) == 1; }));
}

TEST_F(LockerTest, NativeWaitWakesWhenHolderTtlRunsOut) {
  Lease holder = HoldElsewhere("a", seconds(1));
  clock_->SetAutoAdvance(true);
  auto locker = MakeLocker();
  auto start = clock_->Now();
  auto lock = locker->Acquire("a", {.wait = seconds(10), .auto_renew = false});
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(clock_->Now() - start, seconds(1));
  EXPECT_EQ(lock->token(), 2u);
}

TEST_F(LockerTest, CancelStopsTheWait) {
  Lease holder = HoldElsewhere("a");
  auto locker = MakeLocker();
  std::stop_source cancel;
  std::optional<Result<Lock>> got;
  std::thread waiter([&] {
    got.emplace(locker->Acquire("a", {.wait = seconds(60), .stop = cancel.get_token()}));
  });
  ASSERT_TRUE(WaitFor([&] { return clock_->waiters() > 0; }));
  cancel.request_stop();
  waiter.join();
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->status().code(), Code::kCancelled);
}

TEST_F(LockerTest, UnavailableStoreIsRetriedUntilItRecovers) {
  faulty_->FailNext(Op::kTryAcquire, 3, Code::kUnavailable);
  clock_->SetAutoAdvance(true);
  auto locker = MakeLocker();
  auto lock = locker->Acquire("a", {.wait = seconds(10), .auto_renew = false});
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 4);
}

TEST_F(LockerTest, UnavailableWithoutWaitFailsAtOnce) {
  faulty_->FailAlways(Op::kTryAcquire, Code::kUnavailable);
  auto locker = MakeLocker();
  auto lock = locker->Acquire("a");
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), Code::kUnavailable);
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 1);
}

TEST_F(LockerTest, UnavailableUntilDeadlineSaysUnavailable) {
  faulty_->FailAlways(Op::kTryAcquire, Code::kUnavailable);
  clock_->SetAutoAdvance(true);
  auto locker = MakeLocker();
  auto start = clock_->Now();
  auto lock = locker->Acquire("a", {.wait = seconds(1), .auto_renew = false});
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), Code::kUnavailable);
  EXPECT_EQ(clock_->Now() - start, seconds(1));
}

TEST_F(LockerTest, InvalidInputNeverReachesTheStore) {
  auto locker = MakeLocker();
  EXPECT_EQ(locker->Acquire("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(locker->Acquire(std::string(10'000, 'x')).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(locker->Acquire("a", {.ttl = milliseconds(1)}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(locker->Acquire("a", {.ttl = std::chrono::hours(24 * 365)}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 0);
}

TEST_F(LockerTest, RenewalKeepsTheLockPastItsTtl) {
  auto locker = MakeLocker(seconds(3));
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok());
  auto first_valid_until = lock->lease().valid_until;
  const auto start = clock_->Now();
  for (int i = 1; i <= 9; ++i) {
    // The next renewal, about TTL/3 later; a step may also land on the watchdog's check
    // of the previous loss point, which finds the lease renewed and does nothing.
    for (int step = 0; step < 3 && faulty_->calls(Op::kExtend) < i; ++step) {
      StepToNextDeadline();
      // The threads have taken the step once they wait for a later time again.
      WaitFor([&] {
        auto next = clock_->NextDeadlineAfter(Clock::TimePoint::min());
        return clock_->waiters() >= 2 && next && *next > clock_->Now();
      });
    }
    ASSERT_GE(faulty_->calls(Op::kExtend), i);
    EXPECT_TRUE(lock->held()) << i;
  }
  EXPECT_GE(clock_->Now() - start, seconds(8));
  EXPECT_GT(lock->lease().valid_until, first_valid_until + seconds(5));
  EXPECT_TRUE(lock->held());
  EXPECT_FALSE(lock->lost().stop_requested());
  EXPECT_TRUE(memory_->Inspect("a")->held);
  EXPECT_GE(listener_->count(EventKind::kRenewed), 3);
}

TEST_F(LockerTest, RenewalSayingNotHeldEndsTheLeaseAtOnce) {
  auto locker = MakeLocker(seconds(3));
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok());
  faulty_->FailAlways(Op::kExtend, Code::kNotHeld);
  clock_->Advance(seconds(1));
  ASSERT_TRUE(WaitFor([&] { return lock->lost().stop_requested(); }));
  EXPECT_FALSE(lock->held());
  EXPECT_EQ(lock->lost_reason().code(), Code::kNotHeld);
  EXPECT_EQ(lock->Release().code(), Code::kNotHeld);
  EXPECT_EQ(faulty_->calls(Op::kRelease), 0);
  EXPECT_EQ(listener_->count(EventKind::kLost), 1);
}

TEST_F(LockerTest, UnreachableStoreLosesTheLeaseBeforeValidUntil) {
  auto locker = MakeLocker(seconds(3));
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok());
  const auto valid_until = lock->lease().valid_until;
  const auto loss_point = valid_until - milliseconds(300);  // ttl/10
  std::atomic<Clock::TimePoint::rep> lost_at{0};
  std::stop_callback on_lost(lock->lost(),
                             [&] { lost_at = clock_->Now().time_since_epoch().count(); });
  faulty_->FailAlways(Op::kExtend, Code::kUnavailable);

  clock_->Advance(loss_point - milliseconds(1) - clock_->Now());
  ASSERT_TRUE(WaitFor([&] { return faulty_->calls(Op::kExtend) >= 1; }));
  ASSERT_TRUE(WaitFor([&] { return clock_->waiters() > 0; }));
  EXPECT_FALSE(lock->lost().stop_requested());
  EXPECT_GE(listener_->count(EventKind::kRenewFailed), 1);

  clock_->Advance(milliseconds(1));
  // The callback runs just after stop_requested() turns true: wait for the callback.
  ASSERT_TRUE(WaitFor([&] { return lost_at.load() != 0; }));
  EXPECT_TRUE(lock->lost().stop_requested());
  EXPECT_EQ(Clock::TimePoint(Clock::TimePoint::duration(lost_at.load())), loss_point);
  EXPECT_LT(loss_point, valid_until);
  EXPECT_NE(lock->lost_reason().message().find("injected unavailable"), std::string::npos)
      << lock->lost_reason().message();
}

TEST_F(LockerTest, ReleasingALostLockStillFreesItInTheStore) {
  // Lost on our side (no renewal answered), yet the store may still keep it as ours, as a
  // ZooKeeper session that outlived a disconnect does: Release must free it there.
  auto locker = MakeLocker(seconds(3));
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok());
  faulty_->FailAlways(Op::kExtend, Code::kUnavailable);
  clock_->Advance(lock->lease().valid_until - clock_->Now());
  ASSERT_TRUE(WaitFor([&] { return lock->lost().stop_requested(); }));
  Status released = lock->Release();
  EXPECT_EQ(released.code(), Code::kNotHeld);
  EXPECT_EQ(faulty_->calls(Op::kRelease), 1);
  EXPECT_EQ(lock->Release().code(), Code::kNotHeld);
  EXPECT_EQ(faulty_->calls(Op::kRelease), 1);  // once
}

TEST_F(LockerTest, LossIsSignalledOnTimeEvenWhileARenewalCallHangs) {
  auto locker = MakeLocker(seconds(3));
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok());
  const auto valid_until = lock->lease().valid_until;
  const auto loss_point = valid_until - milliseconds(300);
  std::atomic<Clock::TimePoint::rep> lost_at{0};
  std::stop_callback on_lost(lock->lost(),
                             [&] { lost_at = clock_->Now().time_since_epoch().count(); });
  faulty_->Block(Op::kExtend);
  clock_->Advance(seconds(1));  // the renewal starts, and hangs
  ASSERT_TRUE(WaitFor([&] { return faulty_->calls(Op::kExtend) >= 1; }));
  clock_->Advance(loss_point - clock_->Now());
  // The callback runs just after stop_requested() turns true: wait for the callback.
  ASSERT_TRUE(WaitFor([&] { return lost_at.load() != 0; }));
  EXPECT_TRUE(lock->lost().stop_requested());
  EXPECT_EQ(Clock::TimePoint(Clock::TimePoint::duration(lost_at.load())), loss_point);
  EXPECT_FALSE(lock->held());
  faulty_->Unblock();
  EXPECT_EQ(lock->Release().code(), Code::kNotHeld);
}

TEST_F(LockerTest, ReleaseAsyncDuringAHangingRenewalReturnsAndReleasesAfterIt) {
  auto locker = MakeLocker(seconds(3));
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok());
  faulty_->Block(Op::kExtend);
  clock_->Advance(seconds(1));  // the renewal starts, and hangs
  ASSERT_TRUE(WaitFor([&] { return faulty_->calls(Op::kExtend) >= 1; }));
  std::atomic<int> answers{0};
  Status answer = InternalError("no answer");
  lock->ReleaseAsync([&](Status s) {
    answer = s;
    answers++;
  });
  // Returned without waiting for the renewal, and released nothing yet.
  EXPECT_EQ(answers, 0);
  EXPECT_EQ(faulty_->calls(Op::kRelease), 0);
  // A second release is answered at once; the first stays the one that releases.
  std::optional<Status> second;
  lock->ReleaseAsync([&](Status s) { second = s; });
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->code(), Code::kNotHeld);
  faulty_->Unblock();
  ASSERT_TRUE(WaitFor([&] { return answers == 1; }));
  EXPECT_TRUE(answer.ok()) << answer.ToString();
  EXPECT_FALSE(memory_->Inspect("a")->held);
  EXPECT_EQ(faulty_->calls(Op::kRelease), 1);
  EXPECT_EQ(lock->Release().code(), Code::kNotHeld);
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(listener_->count(EventKind::kReleased), 1);
}

TEST_F(LockerTest, AsyncCallsOnABlockingBackendAnswerBeforeReturning) {
  auto locker = MakeLocker(seconds(3));
  std::optional<Result<Lock>> got;
  locker->TryAcquireAsync("a", {}, [&](Result<Lock> lock) { got.emplace(std::move(lock)); });
  ASSERT_TRUE(got.has_value());  // the memory backend has no async calls: answered inline
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  EXPECT_EQ(listener_->count(EventKind::kAcquired), 1);
  std::optional<Status> released;
  (*got)->ReleaseAsync([&](Status s) { released = s; });
  ASSERT_TRUE(released.has_value());
  EXPECT_TRUE(released->ok());
  EXPECT_EQ(listener_->count(EventKind::kReleased), 1);
  EXPECT_FALSE(memory_->Inspect("a")->held);

  // A failed attempt is an event too.
  ASSERT_TRUE(memory_->TryAcquire({"a", seconds(3), NewOwnerId(), {}}).ok());
  got.reset();
  locker->TryAcquireAsync("a", {}, [&](Result<Lock> lock) { got.emplace(std::move(lock)); });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status().code(), Code::kContended);
  EXPECT_EQ(listener_->count(EventKind::kAcquireFailed), 1);
}

TEST_F(LockerTest, RenewalRecoversFromTransientFailures) {
  auto locker = MakeLocker(seconds(3));
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok());
  faulty_->FailNext(Op::kExtend, 2, Code::kUnavailable);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    // To each next deadline while the renewal thread and another sleep, until the
    // renewal has tried again: the earliest deadline may be the other thread's.
    ASSERT_TRUE(WaitFor(
        [&] {
          if (faulty_->calls(Op::kExtend) >= attempt) return true;
          auto next = clock_->NextDeadlineAfter(Clock::TimePoint::min());
          if (clock_->waiters() >= 2 && next && *next > clock_->Now()) {
            clock_->Advance(*next - clock_->Now());
          }
          return false;
        },
        seconds(10), milliseconds(5)));
  }
  ASSERT_TRUE(WaitFor([&] { return listener_->count(EventKind::kRenewed) >= 1; }));
  EXPECT_LT(clock_->Now(), lock->lease().valid_until - seconds(2));  // retried, then renewed
  EXPECT_EQ(listener_->count(EventKind::kRenewFailed), 2);
  EXPECT_FALSE(lock->lost().stop_requested());
  EXPECT_TRUE(lock->held());
}

TEST_F(LockerTest, NoRenewalLosesTheLeaseAtItsTtl) {
  auto locker = MakeLocker(seconds(3));
  auto lock = locker->Acquire("a", {.auto_renew = false});
  ASSERT_TRUE(lock.ok());
  clock_->Advance(seconds(2));
  ASSERT_TRUE(WaitFor([&] { return clock_->waiters() > 0; }));
  EXPECT_FALSE(lock->lost().stop_requested());
  clock_->Advance(seconds(1));
  ASSERT_TRUE(WaitFor([&] { return lock->lost().stop_requested(); }));
  EXPECT_EQ(faulty_->calls(Op::kExtend), 0);
}

TEST_F(LockerTest, ScopeExitReleases) {
  auto locker = MakeLocker();
  {
    auto lock = locker->Acquire("a");
    ASSERT_TRUE(lock.ok());
    EXPECT_TRUE(memory_->Inspect("a")->held);
  }
  EXPECT_FALSE(memory_->Inspect("a")->held);
  EXPECT_EQ(faulty_->calls(Op::kRelease), 1);
  EXPECT_EQ(listener_->count(EventKind::kReleased), 1);
}

TEST_F(LockerTest, MoveAssignReleasesTheOldLock) {
  auto locker = MakeLocker();
  auto a = locker->Acquire("a");
  auto b = locker->Acquire("b");
  ASSERT_TRUE(a.ok() && b.ok());
  *a = std::move(*b);
  EXPECT_FALSE(memory_->Inspect("a")->held);
  EXPECT_TRUE(memory_->Inspect("b")->held);
  EXPECT_EQ(a->lease().name, "b");
}

TEST_F(LockerTest, ReleaseIsIdempotent) {
  auto locker = MakeLocker();
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok());
  EXPECT_TRUE(lock->Release().ok());
  EXPECT_EQ(lock->Release().code(), Code::kNotHeld);
  EXPECT_FALSE(lock->held());
  EXPECT_EQ(faulty_->calls(Op::kRelease), 1);
}

TEST_F(LockerTest, FailedReleaseIsReportedAndTheLockFreesAtTtl) {
  auto locker = MakeLocker();
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok());
  faulty_->FailNext(Op::kRelease, 1, Code::kUnavailable);
  EXPECT_EQ(lock->Release().code(), Code::kUnavailable);
  EXPECT_TRUE(memory_->Inspect("a")->held);
  clock_->Advance(seconds(3));
  EXPECT_FALSE(memory_->Inspect("a")->held);
}

TEST_F(LockerTest, DetachLeavesTheLockHeldAndStopsRenewal) {
  auto locker = MakeLocker(seconds(3));
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok());
  Lease lease = lock->Detach();
  EXPECT_EQ(lease.name, "a");
  lock = Result<Lock>(Lock());  // destroying the detached Lock releases nothing
  EXPECT_TRUE(memory_->Inspect("a")->held);
  clock_->Advance(seconds(2));
  ASSERT_TRUE(WaitFor([&] { return clock_->waiters() > 0; }));
  EXPECT_EQ(faulty_->calls(Op::kExtend), 0);
  EXPECT_TRUE(memory_->Release(lease).ok());
}

TEST_F(LockerTest, LockOutlivesItsLockerAndKeepsRenewing) {
  auto locker = MakeLocker(seconds(3));
  auto lock = locker->Acquire("a");
  ASSERT_TRUE(lock.ok());
  locker.reset();
  clock_->Advance(seconds(1));
  ASSERT_TRUE(WaitFor([&] { return faulty_->calls(Op::kExtend) >= 1; }));
  EXPECT_TRUE(lock->held());
}

TEST_F(LockerTest, ALostCallbackMayDropTheLastLockAfterItsLockerIsGone) {
  auto locker = MakeLocker(seconds(3));
  auto acquired = locker->Acquire("a");
  ASSERT_TRUE(acquired.ok());
  auto lock = std::make_unique<Lock>(std::move(acquired).value());
  locker.reset();  // the Lock now holds the last reference to the Locker's state
  std::atomic<bool> dropped{false};
  std::stop_callback on_lost(lock->lost(), [&] {
    lock.reset();  // on the Locker's own thread
    dropped = true;
  });
  faulty_->FailAlways(Op::kExtend, Code::kNotHeld);
  clock_->Advance(seconds(1));
  ASSERT_TRUE(WaitFor([&] { return dropped.load(); }));
}

int ThreadCount() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

TEST_F(LockerTest, OneRenewalThreadForManyLocks) {
  auto locker = MakeLocker(seconds(3));
  std::vector<Lock> locks;
  auto first = locker->Acquire("lock-0");  // starts the renewal thread
  ASSERT_TRUE(first.ok());
  locks.push_back(std::move(*first));
  int with_one_lock = ThreadCount();
  for (int i = 1; i < 1000; ++i) {
    auto lock = locker->Acquire("lock-" + std::to_string(i));
    ASSERT_TRUE(lock.ok());
    locks.push_back(std::move(*lock));
  }
  EXPECT_EQ(ThreadCount(), with_one_lock);
  clock_->Advance(seconds(1));
  ASSERT_TRUE(WaitFor([&] { return faulty_->calls(Op::kExtend) >= 1000; }));
  for (const Lock& l : locks) EXPECT_TRUE(l.held());
}

TEST_F(LockerTest, RenewalsDueTogetherGoToTheStoreInOneBatch) {
  auto locker = MakeLocker(seconds(3));  // renewal every second
  std::vector<Lock> locks;
  auto take = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto lock = locker->Acquire("lock-" + std::to_string(locks.size()));
      ASSERT_TRUE(lock.ok());
      locks.push_back(std::move(*lock));
    }
  };
  take(10);
  clock_->Advance(milliseconds(100));
  take(10);  // due 100 ms after the first ten: within an eighth of the interval
  clock_->Advance(milliseconds(100));
  take(10);  // due 200 ms after: not
  clock_->Advance(milliseconds(800));
  ASSERT_TRUE(WaitFor([&] { return faulty_->calls(Op::kExtend) >= 20; }));
  ASSERT_TRUE(WaitFor([&] {
    auto next = clock_->NextDeadlineAfter(Clock::TimePoint::min());
    return clock_->waiters() >= 2 && next && *next > clock_->Now();
  }));
  EXPECT_EQ(faulty_->calls(Op::kExtend), 20);
  EXPECT_EQ(faulty_->largest_extend_batch(), 20u);
  EXPECT_EQ(listener_->count(EventKind::kRenewed), 20);
  clock_->Advance(milliseconds(200));
  ASSERT_TRUE(WaitFor([&] { return faulty_->calls(Op::kExtend) >= 30; }));
  for (const Lock& l : locks) EXPECT_TRUE(l.held());
}

TEST_F(LockerTest, ARenewalFailingInABatchRetriesOnlyThatLease) {
  auto locker = MakeLocker(seconds(3));
  auto a = locker->Acquire("a");
  auto b = locker->Acquire("b");
  ASSERT_TRUE(a.ok() && b.ok());
  faulty_->FailNext(Op::kExtend, 1, Code::kUnavailable);  // the batch's first lease
  clock_->Advance(seconds(1));
  ASSERT_TRUE(WaitFor([&] { return listener_->count(EventKind::kRenewed) >= 1; }));
  EXPECT_EQ(listener_->count(EventKind::kRenewFailed), 1);
  // The failed one is tried again soon (within a quarter of what is left), not a full
  // interval later.
  clock_->Advance(milliseconds(600));
  ASSERT_TRUE(WaitFor([&] { return listener_->count(EventKind::kRenewed) >= 2; }));
  EXPECT_EQ(faulty_->calls(Op::kExtend), 3);
  EXPECT_TRUE(a->held());
  EXPECT_TRUE(b->held());
}

TEST_F(LockerTest, ManyThreadsOneLockNeverOverlap) {
  auto locker = MakeLocker(seconds(30));
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto lock = locker->Acquire("shared", {.wait = seconds(60)});
        if (!lock.ok()) continue;
        if (inside.fetch_add(1) != 0) overlaps++;
        inside.fetch_sub(1);
        done++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(done.load(), 400);
}

// --- Reentrancy (AcquireOptions::reentrant) and self-deadlock; each backend's share is
// in tests/conformance/reentrancy_conformance.cc.

TEST_F(LockerTest, AReentryIsAnotherLockOnTheSameLeaseWithoutAStoreCall) {
  auto locker = MakeLocker(seconds(3));
  auto outer = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(outer.ok()) << outer.status().ToString();
  // The options of a re-entry but `reentrant` are the first hold's: no wait, no new TTL.
  auto inner = locker->Acquire("a", {.wait = seconds(60), .ttl = seconds(20), .reentrant = true});
  ASSERT_TRUE(inner.ok()) << inner.status().ToString();
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 1);
  EXPECT_EQ(inner->token(), outer->token());
  EXPECT_EQ(inner->lease().owner_id, outer->lease().owner_id);
  EXPECT_EQ(inner->lease().ttl, seconds(3));
  EXPECT_TRUE(inner->lost() == outer->lost());
  EXPECT_EQ(listener_->count(EventKind::kAcquired), 1);  // events tell of the lease
  // One renewal serves both.
  const auto first_valid_until = outer->lease().valid_until;
  StepToNextDeadline();
  ASSERT_TRUE(WaitFor([&] { return listener_->count(EventKind::kRenewed) == 1; }));
  EXPECT_EQ(faulty_->calls(Op::kExtend), 1);
  EXPECT_GT(inner->lease().valid_until, first_valid_until);
  EXPECT_EQ(inner->lease().valid_until, outer->lease().valid_until);
  // A third hold, then the releases in any order: the last one frees it.
  auto third = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(outer->Release().ok());
  EXPECT_FALSE(outer->held());
  EXPECT_TRUE(inner->held());
  EXPECT_TRUE(third->held());
  EXPECT_TRUE(third->Release().ok());
  EXPECT_TRUE(memory_->Inspect("a")->held);
  EXPECT_EQ(faulty_->calls(Op::kRelease), 0);
  EXPECT_TRUE(inner->Release().ok());
  EXPECT_FALSE(memory_->Inspect("a")->held);
  EXPECT_EQ(faulty_->calls(Op::kRelease), 1);
  EXPECT_EQ(listener_->count(EventKind::kReleased), 1);
}

TEST_F(LockerTest, ReleasingOneHoldTwiceGivesUpOnlyThatHold) {
  auto locker = MakeLocker();
  auto outer = locker->Acquire("a", {.reentrant = true});
  auto inner = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(outer.ok() && inner.ok());
  EXPECT_TRUE(inner->Release().ok());
  EXPECT_EQ(inner->Release().code(), Code::kNotHeld);
  std::optional<Status> async;
  inner->ReleaseAsync([&](Status s) { async = s; });
  ASSERT_TRUE(async.has_value());
  EXPECT_EQ(async->code(), Code::kNotHeld);
  EXPECT_TRUE(outer->held());  // its hold is untouched
  EXPECT_TRUE(memory_->Inspect("a")->held);
  inner = Result<Lock>(Lock());  // dropping the released Lock gives up nothing more
  EXPECT_TRUE(outer->held());
  EXPECT_TRUE(memory_->Inspect("a")->held);
  EXPECT_TRUE(outer->Release().ok());
  EXPECT_FALSE(memory_->Inspect("a")->held);
}

TEST_F(LockerTest, ReleaseAsyncOfOneOfSeveralHoldsAnswersAtOnce) {
  auto locker = MakeLocker();
  auto outer = locker->Acquire("a", {.reentrant = true});
  auto inner = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(outer.ok() && inner.ok());
  std::optional<Status> first;
  inner->ReleaseAsync([&](Status s) { first = s; });
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->ok()) << first->ToString();
  EXPECT_EQ(faulty_->calls(Op::kRelease), 0);
  std::optional<Status> last;
  outer->ReleaseAsync([&](Status s) { last = s; });
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(last->ok()) << last->ToString();
  EXPECT_FALSE(memory_->Inspect("a")->held);
}

TEST_F(LockerTest, ReassigningAReentrantLockKeepsTheLease) {
  auto locker = MakeLocker();
  auto lock = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(lock.ok());
  const FencingToken token = lock->token();
  // The new Acquire runs before the old Lock is released: a re-entry, then one hold less.
  lock = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(lock->token(), token);
  EXPECT_TRUE(lock->held());
  EXPECT_TRUE(memory_->Inspect("a")->held);
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 1);
  EXPECT_TRUE(lock->Release().ok());
  EXPECT_FALSE(memory_->Inspect("a")->held);
}

TEST_F(LockerTest, ALossEndsEveryHoldAndIsNotReEntered) {
  auto locker = MakeLocker(seconds(3));
  auto outer = locker->Acquire("a", {.reentrant = true});
  auto inner = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(outer.ok() && inner.ok());
  std::atomic<int> callbacks{0};
  std::stop_callback on_outer(outer->lost(), [&] { callbacks++; });
  std::stop_callback on_inner(inner->lost(), [&] { callbacks++; });
  faulty_->FailAlways(Op::kExtend, Code::kNotHeld);
  clock_->Advance(seconds(1));
  ASSERT_TRUE(WaitFor([&] { return callbacks == 2; }));
  EXPECT_FALSE(outer->held());
  EXPECT_FALSE(inner->held());
  EXPECT_EQ(inner->lost_reason().code(), Code::kNotHeld);
  EXPECT_EQ(inner->lost_reason(), outer->lost_reason());
  EXPECT_EQ(listener_->count(EventKind::kLost), 1);
  // A lost lease is no obstacle: the next Acquire goes to the store, reentrant or not
  // (where the lease is gone, as the renewal said).
  faulty_->Heal(Op::kExtend);
  ASSERT_TRUE(memory_->ForceRelease("a").ok());
  auto fresh = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 2);
  EXPECT_GT(fresh->token(), outer->token());
  EXPECT_FALSE(fresh->lost().stop_requested());
  // The lost holds release as lost ones, without touching the new lease.
  EXPECT_EQ(inner->Release().code(), Code::kNotHeld);
  EXPECT_EQ(outer->Release().code(), Code::kNotHeld);
  EXPECT_TRUE(fresh->held());
  EXPECT_TRUE(memory_->Inspect("a")->held);
  // ...and the new one is still known as this thread's.
  EXPECT_EQ(locker->Acquire("a").status().code(), Code::kFailedPrecondition);
  auto again = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->token(), fresh->token());
}

TEST_F(LockerTest, DetachingOneHoldDetachesTheLeaseForAll) {
  auto locker = MakeLocker(seconds(3));
  auto outer = locker->Acquire("a", {.reentrant = true});
  auto inner = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(outer.ok() && inner.ok());
  Lease lease = inner->Detach();
  EXPECT_EQ(lease.token, outer->token());
  EXPECT_FALSE(inner->held());
  EXPECT_FALSE(outer->held());
  EXPECT_EQ(outer->Release().code(), Code::kNotHeld);
  EXPECT_EQ(inner->Release().code(), Code::kNotHeld);
  EXPECT_EQ(faulty_->calls(Op::kRelease), 0);
  EXPECT_TRUE(memory_->Inspect("a")->held);  // left to its TTL, as a detached lease is
  EXPECT_EQ(listener_->count(EventKind::kDetached), 1);
  // Forgotten as this thread's: an Acquire now waits for the store like anyone's.
  EXPECT_EQ(locker->Acquire("a", {.reentrant = true}).status().code(), Code::kContended);
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 2);
  EXPECT_TRUE(memory_->Release(lease).ok());
}

TEST_F(LockerTest, ASelfDeadlockIsRefusedAtOnceWithoutAStoreCall) {
  auto locker = MakeLocker();
  auto plain = locker->Acquire("plain");
  auto reentrant = locker->Acquire("reentrant", {.reentrant = true});
  ASSERT_TRUE(plain.ok() && reentrant.ok());
  const auto start = clock_->Now();
  auto waited = locker->Acquire("plain", {.wait = seconds(60)});
  EXPECT_EQ(waited.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(waited.status().message(),
            "plain is already held by this thread through this Locker; use "
            "AcquireOptions::reentrant, or release it first");
  auto mixed = locker->Acquire("plain", {.wait = seconds(60), .reentrant = true});
  EXPECT_EQ(mixed.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(mixed.status().message().find("not reentrantly"), std::string::npos)
      << mixed.status().message();
  EXPECT_EQ(locker->Acquire("reentrant").status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(clock_->Now(), start);  // no time passed: nothing waited
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 2);
  EXPECT_EQ(faulty_->calls(Op::kWaitForRelease), 0);
  EXPECT_EQ(listener_->count(EventKind::kAcquireFailed), 3);
  EXPECT_TRUE(plain->held());
  EXPECT_TRUE(reentrant->held());
  // Once released, the name is free for this thread again.
  EXPECT_TRUE(plain->Release().ok());
  EXPECT_TRUE(locker->Acquire("plain").ok());
}

TEST_F(LockerTest, ALeasePastItsValidityIsNoSelfDeadlock) {
  auto locker = MakeLocker(seconds(3));
  auto first = locker->Acquire("a", {.auto_renew = false, .reentrant = true});
  ASSERT_TRUE(first.ok());
  clock_->Advance(seconds(4));  // expired in the store, whether or not the watchdog ran
  auto second = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_GT(second->token(), first->token());
  auto third = locker->Acquire("a");
  EXPECT_EQ(third.status().code(), Code::kFailedPrecondition);  // `second` is held
}

TEST_F(LockerTest, TryAcquireAsyncTakesNoReentrantLockAndRefusesASelfDeadlock) {
  auto locker = MakeLocker();
  std::optional<Result<Lock>> got;
  auto keep = [&](Result<Lock> lock) { got.emplace(std::move(lock)); };
  locker->TryAcquireAsync("a", {.reentrant = true}, keep);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status().code(), Code::kInvalidArgument);

  auto held = locker->Acquire("a");
  ASSERT_TRUE(held.ok());
  got.reset();
  locker->TryAcquireAsync("a", {}, keep);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 1);
  EXPECT_TRUE(held->Release().ok());

  // A Lock from TryAcquireAsync has no holder thread: an Acquire of its name meets it
  // in the store, as another holder's.
  got.reset();
  locker->TryAcquireAsync("a", {}, keep);
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  EXPECT_EQ(locker->Acquire("a").status().code(), Code::kContended);
  EXPECT_EQ(locker->Acquire("a", {.reentrant = true}).status().code(), Code::kContended);
  EXPECT_TRUE((*got)->Release().ok());
}

TEST_F(LockerTest, AReentrantLockMovedToAnotherThreadIsStillItsAcquirersHold) {
  auto locker = MakeLocker();
  auto outer = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(outer.ok());
  // Released by another thread: a hold of the acquiring thread all the same.
  auto inner = locker->Acquire("a", {.reentrant = true});
  ASSERT_TRUE(inner.ok());
  std::thread([lock = std::move(*inner)]() mutable { EXPECT_TRUE(lock.Release().ok()); }).join();
  EXPECT_TRUE(outer->held());
  EXPECT_TRUE(memory_->Inspect("a")->held);
  // A thread that did not acquire it is another holder: it does not re-enter.
  Status other;
  std::thread([&] { other = locker->Acquire("a", {.reentrant = true}).status(); }).join();
  EXPECT_EQ(other.code(), Code::kContended);
  EXPECT_TRUE(outer->Release().ok());
  EXPECT_FALSE(memory_->Inspect("a")->held);
}

// Locker::AcquireAll (multi_lock.h). The waiting, the overlap of sets and the deadline are
// in the conformance suite (tests/conformance/multi_lock_conformance.cc), on every backend.

TEST_F(LockerTest, AcquireAllTakesEveryNameInCanonicalOrder) {
  auto locker = MakeLocker();
  auto set = locker->AcquireAll({"c", "a", "b"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_TRUE(set->held());
  EXPECT_EQ(set->size(), 3u);
  EXPECT_EQ(set->names(), (std::vector<std::string>{"a", "b", "c"}));
  const auto tokens = set->tokens();
  ASSERT_EQ(tokens.size(), 3u);
  for (const auto& [name, token] : tokens) {
    EXPECT_EQ(set->token(name), token);
    EXPECT_EQ(memory_->Inspect(name)->token, token);
  }
  EXPECT_EQ(set->token("d"), 0u);
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 3);
  EXPECT_TRUE(set->Release().ok());
  EXPECT_FALSE(set->held());
  EXPECT_EQ(set->Release().code(), Code::kNotHeld);  // idempotent
  EXPECT_EQ(faulty_->calls(Op::kRelease), 3);
  for (const char* name : {"a", "b", "c"}) EXPECT_FALSE(memory_->Inspect(name)->held);
}

TEST_F(LockerTest, AcquireAllRefusesBadSetsBeforeTheStore) {
  auto locker = MakeLocker();
  EXPECT_EQ(locker->AcquireAll({}).status().code(), Code::kInvalidArgument);
  auto twice = locker->AcquireAll({"a", "b", "a"});
  EXPECT_EQ(twice.status().code(), Code::kInvalidArgument);
  EXPECT_NE(twice.status().message().find("'a' is listed twice"), std::string::npos)
      << twice.status().message();
  EXPECT_EQ(locker->AcquireAll({"a", std::string("b\n")}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(locker->AcquireAll({"a"}, {.ttl = milliseconds(1)}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 0);
  EXPECT_FALSE(memory_->Inspect("a")->held);
}

TEST_F(LockerTest, AcquireAllWithoutWaitTakesNothingWhenOneNameIsHeld) {
  Lease holder = HoldElsewhere("b");
  auto locker = MakeLocker();
  auto set = locker->AcquireAll({"a", "b", "c"});
  EXPECT_EQ(set.status().code(), Code::kContended);
  EXPECT_NE(set.status().message().find("'b' of the set"), std::string::npos)
      << set.status().message();
  EXPECT_FALSE(memory_->Inspect("a")->held);  // taken, then given back
  EXPECT_FALSE(memory_->Inspect("c")->held);  // never tried
  EXPECT_EQ(faulty_->calls(Op::kTryAcquire), 2);
}

TEST_F(LockerTest, AcquireAllOfANameThisThreadHoldsFailsAtOnceAndGivesBackTheRest) {
  auto locker = MakeLocker();
  auto b = locker->Acquire("b");
  ASSERT_TRUE(b.ok());
  // a is taken, then b would wait on this thread itself: refused, and a given back.
  auto set = locker->AcquireAll({"a", "b"}, {.wait = seconds(10)});
  EXPECT_EQ(set.status().code(), Code::kFailedPrecondition) << set.status().ToString();
  EXPECT_FALSE(memory_->Inspect("a")->held);
  EXPECT_TRUE(b->held());
  EXPECT_EQ(faulty_->calls(Op::kWaitForRelease), 0);
}

TEST_F(LockerTest, ASetIsLostWhenAnyOfItsLocksIsLost) {
  auto locker = MakeLocker(seconds(3));
  auto set = locker->AcquireAll({"a", "b"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_FALSE(set->lost().stop_requested());
  EXPECT_TRUE(set->lost_reason().ok());
  ASSERT_TRUE(memory_->ForceRelease("b").ok());  // an operator breaks one of them
  clock_->Advance(seconds(1));                   // the renewal finds it gone
  ASSERT_TRUE(WaitFor([&] { return set->lost().stop_requested(); }));
  EXPECT_FALSE(set->held());
  EXPECT_EQ(set->lost_reason().code(), Code::kNotHeld);
  EXPECT_NE(set->lost_reason().message().find("of the set"), std::string::npos);
  Status released = set->Release();  // frees what is still held, says what was not
  EXPECT_EQ(released.code(), Code::kNotHeld);
  EXPECT_FALSE(memory_->Inspect("a")->held);
}

TEST_F(LockerTest, AMovedSetKeepsItsLossSignal) {
  auto locker = MakeLocker(seconds(3));
  auto set = locker->AcquireAll({"a", "b"});
  ASSERT_TRUE(set.ok());
  std::stop_token lost = set->lost();
  MultiLock moved = std::move(*set);
  MultiLock assigned;
  assigned = std::move(moved);
  faulty_->FailAlways(Op::kExtend, Code::kNotHeld);
  clock_->Advance(seconds(1));
  ASSERT_TRUE(WaitFor([&] { return lost.stop_requested(); }));
  EXPECT_TRUE(assigned.lost().stop_requested());
  EXPECT_EQ(set->size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from holds nothing
}

}  // namespace
}  // namespace dlock
