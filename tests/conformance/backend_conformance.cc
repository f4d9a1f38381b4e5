#include "conformance/backend_conformance.h"

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "dlock/async_backend.h"
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
  if (!backend_->session_bound()) {
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
  if (backend_->session_bound()) {
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
  if (!backend_->queueing()) GTEST_SKIP() << "no wait line";
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
  if (!backend_->queueing()) GTEST_SKIP() << "no wait line";
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

// What the callbacks of asynchronous calls report, by call: each must answer exactly once.
template <class T>
class Answers {
 public:
  std::function<void(T)> For(int call) {
    return [this, call](T answer) {
      std::lock_guard lock(mu_);
      got_[call].push_back(std::move(answer));
      cv_.notify_all();
    };
  }
  // Waits (at most 10 s) until every call in [0, n) has answered; false if one has not.
  bool AwaitAll(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, seconds(10), [&] {
      for (int i = 0; i < n; ++i) {
        if (got_[i].empty()) return false;
      }
      return true;
    });
  }
  // The one answer of `call`; fails the test if it answered more than once.
  T Of(int call) {
    std::lock_guard lock(mu_);
    EXPECT_EQ(got_[call].size(), 1u) << "call " << call;
    return got_[call].front();
  }
  // Checks, at the end, that no call answered twice.
  ~Answers() {
    std::lock_guard lock(mu_);
    for (const auto& [call, answers] : got_) EXPECT_LE(answers.size(), 1u) << "call " << call;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, std::vector<T>> got_;
};

TEST_P(BackendConformance, AsyncCallsAnswerAsTheBlockingOnesDo) {
  auto name = Name();
  auto mine = Request(name, seconds(10));
  Answers<Result<Lease>> acquired;
  TryAcquireAsync(*backend_, mine, acquired.For(0));
  ASSERT_TRUE(acquired.AwaitAll(1));
  ASSERT_TRUE(acquired.Of(0).ok()) << acquired.Of(0).status().ToString();
  const Lease lease = *acquired.Of(0);
  EXPECT_EQ(lease.owner_id, mine.owner_id);
  EXPECT_GT(lease.token, 0u);
  EXPECT_GT(lease.valid_until, std::chrono::steady_clock::now());

  auto other = GetParam().make();
  TryAcquireAsync(*other, Request(name), acquired.For(1));
  Lease stranger = lease;
  stranger.owner_id = NewOwnerId();
  Answers<Status> released;
  ReleaseAsync(*other, stranger, released.For(0));
  ASSERT_TRUE(acquired.AwaitAll(2));
  ASSERT_TRUE(released.AwaitAll(1));
  EXPECT_EQ(acquired.Of(1).status().code(), Code::kContended);
  EXPECT_EQ(released.Of(0).code(), Code::kNotHeld);
  EXPECT_TRUE(backend_->Inspect(name)->held);

  ReleaseAsync(*backend_, lease, released.For(1));
  ASSERT_TRUE(released.AwaitAll(2));
  EXPECT_TRUE(released.Of(1).ok()) << released.Of(1).ToString();
  EXPECT_FALSE(backend_->Inspect(name)->held);
  ReleaseAsync(*backend_, lease, released.For(2));  // idempotent
  ASSERT_TRUE(released.AwaitAll(3));
  EXPECT_EQ(released.Of(2).code(), Code::kNotHeld);

  // Bad input answers through the callback too, and reaches no store.
  TryAcquireAsync(*backend_, Request("", seconds(10)), acquired.For(2));
  ASSERT_TRUE(acquired.AwaitAll(3));
  EXPECT_EQ(acquired.Of(2).status().code(), Code::kInvalidArgument);
}

TEST_P(BackendConformance, ManyAsyncAcquisitionsInFlightFromOneThread) {
  constexpr int kLocks = 200;
  std::vector<std::string> names;
  Answers<Result<Lease>> acquired;
  for (int i = 0; i < kLocks; ++i) {
    names.push_back(Name());
    TryAcquireAsync(*backend_, Request(names.back()), acquired.For(i));
  }
  ASSERT_TRUE(acquired.AwaitAll(kLocks));
  Answers<Status> released;
  for (int i = 0; i < kLocks; ++i) {
    ASSERT_TRUE(acquired.Of(i).ok()) << i << ": " << acquired.Of(i).status().ToString();
    EXPECT_EQ(acquired.Of(i)->name, names[static_cast<std::size_t>(i)]);
    ReleaseAsync(*backend_, *acquired.Of(i), released.For(i));
  }
  ASSERT_TRUE(released.AwaitAll(kLocks));
  for (int i = 0; i < kLocks; ++i) {
    EXPECT_TRUE(released.Of(i).ok()) << i << ": " << released.Of(i).ToString();
  }
  EXPECT_FALSE(backend_->Inspect(names.front())->held);
  EXPECT_FALSE(backend_->Inspect(names.back())->held);
}

// A Locker's asynchronous calls: a Lock in the callback, released without blocking; the
// blocking calls refuse to run there, and a Lock dropped there is still released.
TEST_P(BackendConformance, LockerAsyncCallsNeverBlockTheirCallbacks) {
  auto name = Name();
  Locker locker(backend_);
  struct Seen {
    Status acquire_inside;
    Status release_inside;
    FencingToken token = 0;
  };
  Answers<Seen> seen;
  locker.TryAcquireAsync(name, {}, [&](Result<Lock> lock) {
    Seen s;
    s.acquire_inside = locker.Acquire(Name()).status();
    if (lock.ok()) {
      s.token = lock->token();
      lock->ReleaseAsync([&, s](Status released) {
        Seen t = s;
        t.release_inside = released;
        seen.For(0)(t);
      });
    } else {
      s.release_inside = lock.status();
      seen.For(0)(s);
    }
  });
  ASSERT_TRUE(seen.AwaitAll(1));
  EXPECT_EQ(seen.Of(0).acquire_inside.code(), Code::kFailedPrecondition);
  EXPECT_TRUE(seen.Of(0).release_inside.ok()) << seen.Of(0).release_inside.ToString();
  EXPECT_GT(seen.Of(0).token, 0u);
  EXPECT_FALSE(backend_->Inspect(name)->held);

  // Dropped in the callback (or Release() called there): released all the same.
  for (int call = 1; call <= 2; ++call) {
    locker.TryAcquireAsync(name, {}, [&, call](Result<Lock> lock) {
      Seen s;
      s.token = lock.ok() ? lock->token() : 0;
      if (lock.ok() && call == 2) s.release_inside = lock->Release();
      seen.For(call)(s);
    });
    ASSERT_TRUE(seen.AwaitAll(call + 1));
    EXPECT_GT(seen.Of(call).token, 0u);
    if (call == 2) {
      EXPECT_EQ(seen.Of(call).release_inside.code(), Code::kFailedPrecondition);
    }
    EXPECT_TRUE(WaitFor([&] { return !backend_->Inspect(name)->held; })) << call;
  }

  // A Lock kept in a callback's captures dies wherever the backend drops them (Redis: on
  // its I/O thread, after the callback): it is still released, without blocking there.
  const std::string other = Name("-other");
  Answers<Status> chained;
  locker.TryAcquireAsync(name, {}, [&](Result<Lock> first) {
    if (!first.ok()) return chained.For(0)(first.status());
    auto kept = std::make_shared<Lock>(std::move(*first));
    locker.TryAcquireAsync(other, {}, [&, kept](Result<Lock> second) {
      chained.For(0)(second.status());  // `second` is dropped here, `kept` later
    });
  });
  ASSERT_TRUE(chained.AwaitAll(1));
  EXPECT_TRUE(chained.Of(0).ok()) << chained.Of(0).ToString();
  EXPECT_TRUE(WaitFor([&] { return !backend_->Inspect(name)->held; }));
  EXPECT_TRUE(WaitFor([&] { return !backend_->Inspect(other)->held; }));

  // A stop already requested: cancelled, as Acquire would be.
  std::stop_source stopped;
  stopped.request_stop();
  Answers<Status> cancelled;
  locker.TryAcquireAsync(name, {.stop = stopped.get_token()},
                         [&](Result<Lock> lock) { cancelled.For(0)(lock.status()); });
  ASSERT_TRUE(cancelled.AwaitAll(1));
  EXPECT_EQ(cancelled.Of(0).code(), Code::kCancelled);
  EXPECT_FALSE(backend_->Inspect(name)->held);

  Answers<Status> refused;
  locker.TryAcquireAsync(name, {.wait = seconds(1)},
                         [&](Result<Lock> lock) { refused.For(0)(lock.status()); });
  ASSERT_TRUE(refused.AwaitAll(1));
  EXPECT_EQ(refused.Of(0).code(), Code::kInvalidArgument);
}

}  // namespace dlock::test
