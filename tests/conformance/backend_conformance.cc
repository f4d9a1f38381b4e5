#include "conformance/backend_conformance.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "dlock/lease.h"
#include "dlock/locker.h"
#include "test_util.h"

namespace dlock::test {

using std::chrono::milliseconds;
using std::chrono::seconds;

void BackendConformance::SetUp() {
  backend_ = GetParam().make();
  ASSERT_NE(backend_, nullptr);
}

std::string BackendConformance::Name(std::string_view suffix) {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return "conformance/" + std::string(info->name()) + "/" + std::to_string(::getpid()) + "-" +
         std::to_string(counter++) + std::string(suffix);
}

AcquireRequest BackendConformance::Request(const std::string& name, milliseconds ttl) {
  return {name, ttl, NewOwnerId(), HolderInfo::ThisProcess()};
}

TEST_P(BackendConformance, TryAcquireFreeLockSucceeds) {
  auto name = Name();
  auto req = Request(name, seconds(10));
  auto before = std::chrono::steady_clock::now();
  auto lease = backend_->TryAcquire(req);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(lease->name, name);
  EXPECT_EQ(lease->owner_id, req.owner_id);
  EXPECT_GT(lease->token, 0u);
  EXPECT_EQ(lease->ttl, seconds(10));
  // Conservative: counted from before the request, minus the drift allowance.
  EXPECT_LE(lease->valid_until,
            std::chrono::steady_clock::now() + seconds(10) - ClockDrift(seconds(10)));
  EXPECT_GE(lease->valid_until, before + seconds(10) - ClockDrift(seconds(10)) - seconds(1));
}

TEST_P(BackendConformance, SecondAcquireIsContended) {
  auto name = Name();
  ASSERT_TRUE(backend_->TryAcquire(Request(name)).ok());
  auto other = GetParam().make()->TryAcquire(Request(name));
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kContended);
}

TEST_P(BackendConformance, ExtendIsOwnerOnlyAndKeepsTheToken) {
  auto name = Name();
  auto lease = backend_->TryAcquire(Request(name, seconds(5)));
  ASSERT_TRUE(lease.ok());
  Lease stranger = *lease;
  stranger.owner_id = NewOwnerId();
  EXPECT_EQ(backend_->Extend(stranger, seconds(60)).status().code(), Code::kNotHeld);
  EXPECT_LE(backend_->Inspect(name)->remaining, seconds(5));
  auto extended = backend_->Extend(*lease, seconds(60));
  ASSERT_TRUE(extended.ok()) << extended.status().ToString();
  EXPECT_EQ(extended->token, lease->token);
  EXPECT_GT(extended->valid_until, lease->valid_until);
  // A session-bound store keeps its session timeout; the lease says what was granted.
  if (!backend_->capabilities().session_bound) {
    EXPECT_EQ(extended->ttl, seconds(60));
  }
  EXPECT_GT(backend_->Inspect(name)->remaining, extended->ttl * 5 / 6);
}

TEST_P(BackendConformance, ReleaseIsOwnerOnly) {
  auto name = Name();
  auto lease = backend_->TryAcquire(Request(name));
  ASSERT_TRUE(lease.ok());
  Lease stranger = *lease;
  stranger.owner_id = NewOwnerId();
  EXPECT_EQ(backend_->Release(stranger).code(), Code::kNotHeld);
  EXPECT_TRUE(backend_->Inspect(name)->held);
  EXPECT_TRUE(backend_->Release(*lease).ok());
  EXPECT_FALSE(backend_->Inspect(name)->held);
}

TEST_P(BackendConformance, ReleaseIsIdempotent) {
  auto name = Name();
  auto lease = backend_->TryAcquire(Request(name));
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE(backend_->Release(*lease).ok());
  EXPECT_EQ(backend_->Release(*lease).code(), Code::kNotHeld);
  auto next = backend_->TryAcquire(Request(name));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(backend_->Release(*lease).code(), Code::kNotHeld);  // not the new holder's
  EXPECT_TRUE(backend_->Inspect(name)->held);
}

TEST_P(BackendConformance, TokensStrictlyIncrease) {
  auto name = Name();
  FencingToken last = 0;
  for (int i = 0; i < 20; ++i) {
    auto backend = (i % 2) ? backend_ : GetParam().make();
    auto lease = backend->TryAcquire(Request(name));
    ASSERT_TRUE(lease.ok()) << lease.status().ToString();
    EXPECT_GT(lease->token, last);
    last = lease->token;
    ASSERT_TRUE(backend->Release(*lease).ok());
  }
  EXPECT_EQ(backend_->Inspect(name)->token, last);
}

TEST_P(BackendConformance, InspectShowsTheHolderButNoOwnerId) {
  auto name = Name();
  EXPECT_FALSE(backend_->Inspect(name)->held);
  auto req = Request(name, seconds(20));
  auto lease = backend_->TryAcquire(req);
  ASSERT_TRUE(lease.ok());
  auto state = backend_->Inspect(name);
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->held);
  EXPECT_EQ(state->name, name);
  EXPECT_EQ(state->token, lease->token);
  EXPECT_GT(state->remaining, seconds(15));
  EXPECT_LE(state->remaining, seconds(20));
  EXPECT_EQ(state->holder.host, req.holder.host);
  EXPECT_EQ(state->holder.pid, req.holder.pid);
  ASSERT_TRUE(backend_->Release(*lease).ok());
  state = backend_->Inspect(name);
  EXPECT_FALSE(state->held);
  EXPECT_EQ(state->token, lease->token);  // the last one issued
}

TEST_P(BackendConformance, ExpiredLockIsFreeAgainAndItsOwnerCannotExtend) {
  if (backend_->capabilities().session_bound) {
    GTEST_SKIP() << "leases live as long as the session; the backend's own tests end sessions";
  }
  auto name = Name();
  auto lease = backend_->TryAcquire(Request(name, milliseconds(100)));
  ASSERT_TRUE(lease.ok());
  Result<Lease> next = ContendedError("not yet");
  ASSERT_TRUE(WaitFor([&] {
    next = backend_->TryAcquire(Request(name));
    return next.ok();
  }));
  EXPECT_GE(std::chrono::steady_clock::now(), lease->valid_until);
  EXPECT_GT(next->token, lease->token);
  EXPECT_EQ(backend_->Extend(*lease, seconds(30)).status().code(), Code::kNotHeld);
  EXPECT_EQ(backend_->Release(*lease).code(), Code::kNotHeld);
  EXPECT_TRUE(backend_->Inspect(name)->held);
}

TEST_P(BackendConformance, ManyThreadsOneWinner) {
  auto name = Name();
  std::atomic<int> winners{0};
  std::atomic<int> contended{0};
  std::atomic<bool> go{false};
  // One client each, all alive until every one has tried (a session-bound store frees a
  // lock when its client goes).
  std::vector<std::shared_ptr<Backend>> backends;
  for (int i = 0; i < 16; ++i) backends.push_back(GetParam().make());
  std::vector<std::thread> threads;
  for (const auto& backend : backends) {
    threads.emplace_back([&, backend] {
      while (!go) std::this_thread::yield();
      auto lease = backend->TryAcquire(Request(name));
      if (lease.ok()) winners++;
      if (!lease.ok() && lease.status().code() == Code::kContended) contended++;
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_LE(winners.load(), 1);
  EXPECT_EQ(winners.load() + contended.load(), 16);
  // Redlock may split the vote among simultaneous single attempts so that nobody wins a
  // majority (each then releases what it won); every other store has one winner.
  if (backend_->kind() != "redlock") {
    EXPECT_EQ(winners.load(), 1);
  }
}

TEST_P(BackendConformance, ForceReleaseFreesAnyHolder) {
  auto name = Name();
  auto lease = backend_->TryAcquire(Request(name));
  ASSERT_TRUE(lease.ok());
  EXPECT_TRUE(backend_->ForceRelease(name).ok());
  EXPECT_FALSE(backend_->Inspect(name)->held);
  EXPECT_EQ(backend_->Extend(*lease, seconds(30)).status().code(), Code::kNotHeld);
  EXPECT_EQ(backend_->ForceRelease(name).code(), Code::kNotHeld);
}

TEST_P(BackendConformance, WaitForReleaseIsWokenByRelease) {
  if (!backend_->capabilities().native_wait) GTEST_SKIP() << "no native wait";
  auto name = Name();
  auto lease = backend_->TryAcquire(Request(name));
  ASSERT_TRUE(lease.ok());
  std::atomic<bool> woke{false};
  Status result;
  std::thread waiter([&] {
    result =
        GetParam().make()->WaitForRelease(name, std::chrono::steady_clock::now() + seconds(60), {});
    woke = true;
  });
  // Give the waiter time to start waiting: releasing earlier is also correct (it must
  // then return at once), so this only makes the test cover the sleeping case more often.
  WaitFor([] { return false; }, milliseconds(50));
  EXPECT_FALSE(woke.load());
  ASSERT_TRUE(backend_->Release(*lease).ok());
  waiter.join();
  EXPECT_TRUE(result.ok()) << result.ToString();
}

TEST_P(BackendConformance, WaitForReleaseHonoursDeadlineAndStop) {
  if (!backend_->capabilities().native_wait) GTEST_SKIP() << "no native wait";
  auto name = Name();
  ASSERT_TRUE(backend_->TryAcquire(Request(name)).ok());
  auto deadline = std::chrono::steady_clock::now() + milliseconds(50);
  EXPECT_EQ(backend_->WaitForRelease(name, deadline, {}).code(), Code::kDeadlineExceeded);
  EXPECT_GE(std::chrono::steady_clock::now(), deadline);
  std::stop_source stop;
  std::thread canceller([&] { stop.request_stop(); });
  Status cancelled = backend_->WaitForRelease(name, std::chrono::steady_clock::now() + seconds(60),
                                              stop.get_token());
  canceller.join();
  EXPECT_EQ(cancelled.code(), Code::kCancelled);
}

TEST_P(BackendConformance, BadInputIsRejectedAndChangesNothing) {
  auto name = Name();
  EXPECT_EQ(backend_->TryAcquire(Request("")).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(backend_->TryAcquire(Request(std::string(10'000, 'n'))).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(backend_->TryAcquire(Request("a\nb")).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(backend_->TryAcquire(Request(name, milliseconds(0))).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(backend_->TryAcquire(Request(name, std::chrono::hours(24 * 3650))).status().code(),
            Code::kInvalidArgument);
  auto bad_owner = Request(name);
  bad_owner.owner_id = "not an id!";
  EXPECT_EQ(backend_->TryAcquire(bad_owner).status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(backend_->Inspect(name)->held);
}

TEST_P(BackendConformance, FiftyQueuedWaitersAreServedInFifoOrderWithIncreasingTokens) {
  if (!backend_->capabilities().fifo) GTEST_SKIP() << "no wait queue";
  constexpr int kWaiters = 50;
  auto name = Name();
  auto first = backend_->TryAcquire(Request(name));
  ASSERT_TRUE(first.ok());
  // Five clients, ten waiting threads each, each in line before the next one comes.
  std::vector<std::unique_ptr<Locker>> lockers;
  for (int i = 0; i < 5; ++i) lockers.push_back(std::make_unique<Locker>(GetParam().make()));
  std::mutex mu;
  std::vector<int> order;
  std::vector<FencingToken> tokens;
  std::vector<std::thread> threads;
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&, i] {
      auto lock = lockers[static_cast<std::size_t>(i % 5)]->Acquire(name, {.wait = seconds(60)});
      ASSERT_TRUE(lock.ok()) << lock.status().ToString();
      {
        std::lock_guard guard(mu);
        order.push_back(i);
        tokens.push_back(lock->token());
      }
      EXPECT_TRUE(lock->Release().ok());
    });
    if (!WaitFor([&] { return backend_->Inspect(name)->waiters == i + 1; })) {
      ADD_FAILURE() << "waiter " << i << " never got in line";
      break;
    }
  }
  ASSERT_TRUE(backend_->Release(*first).ok());
  for (auto& t : threads) t.join();
  std::vector<int> expected(threads.size());
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<int>(i);
  EXPECT_EQ(order, expected);
  for (std::size_t i = 1; i < tokens.size(); ++i) EXPECT_GT(tokens[i], tokens[i - 1]);
  EXPECT_EQ(backend_->Inspect(name)->token, tokens.back());
}

TEST_P(BackendConformance, ACancelledWaiterLeavesTheLine) {
  if (!backend_->capabilities().fifo) GTEST_SKIP() << "no wait queue";
  auto name = Name();
  auto lease = backend_->TryAcquire(Request(name));
  ASSERT_TRUE(lease.ok());
  Locker locker(GetParam().make());
  std::stop_source stop;
  std::optional<Result<Lock>> got;
  std::thread waiter(
      [&] { got.emplace(locker.Acquire(name, {.wait = seconds(60), .stop = stop.get_token()})); });
  bool queued = WaitFor([&] { return backend_->Inspect(name)->waiters == 1; });
  stop.request_stop();
  waiter.join();
  ASSERT_TRUE(queued);
  EXPECT_EQ(got->status().code(), Code::kCancelled);
  EXPECT_EQ(backend_->Inspect(name)->waiters, 0);
  EXPECT_TRUE(backend_->Release(*lease).ok());
}

}  // namespace dlock::test
