// The Redlock backend against five real redis-servers: the conformance suite, then
// instances paused, killed and restarted, strict fencing across different majorities,
// no leftovers, and wake-ups by release.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

#include "conformance/backend_conformance.h"
#include "dlock/async_backend.h"
#include "dlock/locker.h"
#include "dlock/open.h"
#include "dlock/testing/faulty_backend.h"
#include "integration/backend_util.h"
#include "integration/redis_server.h"
#include "test_util.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Five instances; a test that breaks them makes its own set.
class Cluster {
 public:
  bool Start(int n = 5) {
    for (int i = 0; i < n; ++i) {
      servers_.push_back(RedisServer::Start());
      if (!servers_.back()) return false;
    }
    return true;
  }
  std::string Uri(const std::string& options = "") const {
    std::string uri = "redlock://";
    for (std::size_t i = 0; i < servers_.size(); ++i) {
      uri += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(servers_[i]->port());
    }
    return uri + options;
  }
  RedisServer& operator[](std::size_t i) { return *servers_[i]; }
  std::size_t size() const { return servers_.size(); }

 private:
  std::vector<std::unique_ptr<RedisServer>> servers_;
};

Cluster* shared_cluster = nullptr;

class RedlockEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    cluster_ = std::make_unique<Cluster>();
    ASSERT_TRUE(cluster_->Start());
    shared_cluster = cluster_.get();
  }
  void TearDown() override { cluster_.reset(); }

 private:
  std::unique_ptr<Cluster> cluster_;
};

const auto* const env = ::testing::AddGlobalTestEnvironment(new RedlockEnvironment);

std::shared_ptr<Backend> SharedClusterBackend() {
  return shared_cluster ? Open(shared_cluster->Uri()) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Redlock, BackendConformance,
                         ::testing::Values(BackendFactory{"redlock", SharedClusterBackend}),
                         FactoryName);

std::string Counter(RedisServer& server, const std::string& name) {
  std::string v = server.Cli({"GET", "dlock:{" + name + "}:fence"});
  return v.empty() ? v : v.substr(0, v.size() - 1);
}

// TryAcquire, or TryAcquireAsync waited for (`async`).
Result<Lease> AcquireVia(Backend& backend, const AcquireRequest& request, bool async) {
  if (!async) return backend.TryAcquire(request);
  std::promise<Result<Lease>> answer;
  backend.async()->TryAcquireAsync(
      request, [&](Result<Lease> lease) { answer.set_value(std::move(lease)); });
  return answer.get_future().get();
}

// Release, or ReleaseAsync waited for (`async`).
Status ReleaseVia(Backend& backend, const Lease& lease, bool async) {
  if (!async) return backend.Release(lease);
  std::promise<Status> answer;
  backend.async()->ReleaseAsync(lease, [&](Status s) { answer.set_value(std::move(s)); });
  return answer.get_future().get();
}

TEST(RedlockTest, TwoPausedInstancesStillLeaveAMajority) {
  auto backend = SharedClusterBackend();
  ASSERT_NE(backend, nullptr);
  Cluster& c = *shared_cluster;
  c[0].Pause();
  c[1].Pause();
  auto lease = backend->TryAcquire(Request("two-paused"));
  auto released = lease.ok() ? backend->Release(*lease) : lease.status();
  c[0].Resume();
  c[1].Resume();
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_TRUE(released.ok()) << released.ToString();
}

TEST(RedlockTest, ThreeDownIsUnavailableAndSaysHowManyAnswered) {
  Cluster c;
  ASSERT_TRUE(c.Start());
  auto backend = Open(c.Uri("?timeout=500ms"));
  ASSERT_NE(backend, nullptr);
  c[0].Stop();
  c[1].Pause();
  c[2].Pause();
  for (bool async : {false, true}) {
    SCOPED_TRACE(async ? "asynchronous" : "blocking");
    const auto start = std::chrono::steady_clock::now();
    auto lease = AcquireVia(*backend, Request("three-down", seconds(2)), async);
    EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));  // the instance timeout
    ASSERT_FALSE(lease.ok());
    EXPECT_EQ(lease.status().code(), Code::kUnavailable);
    EXPECT_NE(lease.status().message().find("only 2 of 5"), std::string::npos)
        << lease.status().message();
    Lease stranger{"three-down", NewOwnerId(), 0, seconds(2), {}};
    EXPECT_EQ(ReleaseVia(*backend, stranger, async).code(), Code::kUnavailable);
  }
  Locker locker(backend);
  auto start = std::chrono::steady_clock::now();
  auto lock = locker.Acquire("three-down", {.wait = seconds(1)});
  EXPECT_EQ(lock.status().code(), Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));  // the wait, not more
  c[1].Resume();
  c[2].Resume();
  // A new client cannot even start with only two instances answering.
  c[1].Stop();
  c[2].Stop();
  auto fresh = OpenBackend(c.Uri("?connect_timeout=300ms&timeout=300ms"));
  ASSERT_FALSE(fresh.ok());
  EXPECT_EQ(fresh.status().code(), Code::kUnavailable);
  EXPECT_NE(fresh.status().message().find("only 2 of 5"), std::string::npos);
}

TEST(RedlockTest, TwoKilledStillWorkAndARestartedInstanceIsUsedAgain) {
  Cluster c;
  ASSERT_TRUE(c.Start());
  auto backend = Open(c.Uri("?timeout=500ms&connect_timeout=500ms"));
  ASSERT_NE(backend, nullptr);
  c[3].Stop();
  c[4].Stop();
  auto lease = backend->TryAcquire(Request("restart"));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  ASSERT_TRUE(backend->Release(*lease).ok());
  ASSERT_TRUE(c[3].Restart());
  ASSERT_TRUE(c[4].Restart());
  // The client reconnects after its backoff; then every instance takes the lock again.
  ASSERT_TRUE(WaitFor([&] {
    auto l = backend->TryAcquire(Request("restart-" + NewOwnerId()));
    if (!l.ok()) return false;
    bool everywhere = c[3].Cli({"EXISTS", "dlock:{" + l->name + "}"}) == "1\n" &&
                      c[4].Cli({"EXISTS", "dlock:{" + l->name + "}"}) == "1\n";
    backend->Release(*l).IgnoreError();
    return everywhere;
  }));
}

TEST(RedlockTest, ExtendTakesBackAnInstanceThatLostTheKey) {
  auto backend = SharedClusterBackend();
  auto lease = backend->TryAcquire(Request("retake"));
  ASSERT_TRUE(lease.ok());
  Cluster& c = *shared_cluster;
  c[0].Cli({"DEL", "dlock:{retake}"});  // as a restart without persistence would
  c[0].Cli({"SET", "dlock:{retake}:fence", "0"});
  auto extended = backend->Extend(*lease, seconds(30));
  ASSERT_TRUE(extended.ok()) << extended.status().ToString();
  // The re-take is sent after the majority answered; it lands shortly after.
  EXPECT_TRUE(WaitFor([&] {
    return c[0].Cli({"HGET", "dlock:{retake}", "owner"}) == lease->owner_id + "\n";
  }));
  EXPECT_EQ(Counter(c[0], "retake"), std::to_string(lease->token));
  EXPECT_TRUE(backend->Release(*lease).ok());
}

TEST(RedlockTest, ExtendKeepsAMajorityWhenAMinorityIsCutOffAndAnotherNeverHadTheKey) {
  // A grant that won four of five (the fifth still held by the previous holder, whose
  // release came later), then two of the four cut off: two extend, the fifth is taken.
  auto backend = SharedClusterBackend();
  auto lease = backend->TryAcquire(Request("minority-cut"));
  ASSERT_TRUE(lease.ok());
  Cluster& c = *shared_cluster;
  c[4].Cli({"DEL", "dlock:{minority-cut}"});
  c[0].Pause();
  c[1].Pause();
  auto extended = backend->Extend(*lease, seconds(30));
  std::string fifth = c[4].Cli({"HGET", "dlock:{minority-cut}", "owner"});
  c[0].Resume();
  c[1].Resume();
  ASSERT_TRUE(extended.ok()) << extended.status().ToString();
  EXPECT_EQ(fifth, lease->owner_id + "\n");
  EXPECT_TRUE(backend->Release(*lease).ok());
  // After a force release nothing is taken back: no instance has the key any more.
  auto again = backend->TryAcquire(Request("minority-cut"));
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(backend->ForceRelease("minority-cut").ok());
  EXPECT_EQ(backend->Extend(*again, seconds(30)).status().code(), Code::kNotHeld);
  EXPECT_EQ(c[4].Cli({"EXISTS", "dlock:{minority-cut}"}), "0\n");
  // Nor for a lease whose validity this process does not know (`dlock extend` passes
  // only name and owner): its keys on a minority are not grown back into a majority.
  auto third = backend->TryAcquire(Request("minority-cut"));
  ASSERT_TRUE(third.ok());
  for (int i = 0; i < 3; ++i) c[i].Cli({"DEL", "dlock:{minority-cut}"});
  Lease bare{third->name, third->owner_id};
  EXPECT_EQ(backend->Extend(bare, seconds(30)).status().code(), Code::kNotHeld);
  EXPECT_EQ(c[0].Cli({"EXISTS", "dlock:{minority-cut}"}), "0\n");
  backend->ForceRelease("minority-cut").IgnoreError();  // the two keys left
}

// A holder A wins instances {0,1,2}, the next holder B wins {2,3,4}; instance 0's counter
// was ahead. Round 1 alone would give B a smaller token than A's; round 2 prevents it.
// `async`: through the asynchronous calls.
FencingToken TokenOfBAfterA(const std::string& options, const std::string& name,
                            FencingToken* token_a, std::string* counter_1_after_a,
                            bool async = false) {
  Cluster& c = *shared_cluster;
  auto backend = Open(c.Uri(options));
  c[0].Cli({"SET", "dlock:{" + name + "}:fence", "10"});
  c[3].Pause();
  c[4].Pause();
  auto a = AcquireVia(*backend, Request(name), async);
  *counter_1_after_a = Counter(c[1], name);
  if (a.ok()) {
    EXPECT_TRUE(ReleaseVia(*backend, *a, async).ok());
  }
  c[3].Resume();
  c[4].Resume();
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  *token_a = a.ok() ? a->token : 0;
  c[0].Pause();
  c[1].Pause();
  auto b = AcquireVia(*backend, Request(name), async);
  if (b.ok()) {
    EXPECT_TRUE(ReleaseVia(*backend, *b, async).ok());
  }
  c[0].Resume();
  c[1].Resume();
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? b->token : 0;
}

TEST(RedlockTest, TokensIncreaseAcrossDifferentMajoritiesOnlyWithTheSecondRound) {
  FencingToken a = 0;
  std::string counter = "";
  FencingToken b = TokenOfBAfterA("", "majorities", &a, &counter);
  EXPECT_EQ(a, 11u);
  EXPECT_GT(b, a);
  EXPECT_EQ(counter, "11");  // round 2 raised the counters of A's majority to A's token

  FencingToken a_off = 0;
  FencingToken b_off = TokenOfBAfterA("?fencing=off", "majorities-off", &a_off, &counter);
  EXPECT_EQ(a_off, 11u);
  EXPECT_EQ(counter, "1");
  EXPECT_LT(b_off, a_off) << "without round 2 the later holder got a smaller token";
}

TEST(RedlockTest, AsyncCallsRunTheSecondRoundToo) {
  auto backend = SharedClusterBackend();
  ASSERT_NE(backend, nullptr);
  ASSERT_NE(backend->async(), nullptr);  // redlock:// has asynchronous calls of its own
  FencingToken a = 0;
  std::string counter = "";
  FencingToken b = TokenOfBAfterA("", "majorities-async", &a, &counter, /*async=*/true);
  EXPECT_EQ(a, 11u);
  EXPECT_GT(b, a);
  EXPECT_EQ(counter, "11");
}

TEST(RedlockTest, InspectNamesTheHolderOfTheMajorityNotAMinoritysNewerKey) {
  // A failed attempt can hold a minority of instances for a moment (its releases are
  // still on their way): Inspect must name the majority's holder, not the higher token.
  auto backend = SharedClusterBackend();
  ASSERT_NE(backend, nullptr);
  Cluster& c = *shared_cluster;
  const std::string name = "inspect-majority";
  auto a = backend->TryAcquire(Request(name));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  std::vector<Lease> minority;
  for (std::size_t i : {3, 4}) {
    c[i].Cli({"DEL", "dlock:{" + name + "}"});
    auto single = Open("redis://127.0.0.1:" + std::to_string(c[i].port()));
    ASSERT_NE(single, nullptr);
    auto b = single->TryAcquire(Request(name));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_GT(b->token, a->token);
    minority.push_back(*b);
  }
  auto state = backend->Inspect(name);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_TRUE(state->held);
  EXPECT_EQ(state->token, a->token);
  for (std::size_t i : {3, 4}) c[i].Cli({"DEL", "dlock:{" + name + "}"});
  EXPECT_TRUE(backend->Release(*a).ok());
}

// Scripts (EVAL and EVALSHA) the server has run so far.
long ScriptsRun(RedisServer& server) {
  std::string stats = server.Cli({"INFO", "commandstats"});
  long total = 0;
  for (const char* command : {"cmdstat_eval:calls=", "cmdstat_evalsha:calls="}) {
    auto at = stats.find(command);
    if (at != std::string::npos) total += std::stol(stats.substr(at + std::strlen(command)));
  }
  return total;
}

TEST(RedlockTest, TheSecondRoundRunsOnlyWhereTheCountersDisagree) {
  Cluster c;
  ASSERT_TRUE(c.Start(3));
  auto backend = Open(c.Uri());
  ASSERT_NE(backend, nullptr);
  const std::string key = "dlock:{rounds}";
  auto set_counters = [&](std::vector<int> values) {
    for (std::size_t i = 0; i < c.size(); ++i) {
      c[i].Cli({"SET", key + ":fence", std::to_string(values[i])});
    }
  };
  // Acquires and releases; `ran`: the scripts each instance ran for it. An instance is
  // done once it ran two and the key is gone: its calls for one key go over one
  // connection in order (acquire, the raise if any, release).
  std::vector<long> ran;
  auto pair = [&]() -> FencingToken {
    std::vector<long> before;
    for (std::size_t i = 0; i < c.size(); ++i) before.push_back(ScriptsRun(c[i]));
    auto lease = backend->TryAcquire(Request("rounds"));
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    if (!lease.ok()) return 0;
    EXPECT_TRUE(backend->Release(*lease).ok());
    ran.clear();
    for (std::size_t i = 0; i < c.size(); ++i) {
      EXPECT_TRUE(WaitFor([&] {
        return ScriptsRun(c[i]) >= before[i] + 2 && c[i].Cli({"EXISTS", key}) == "0\n";
      }));
      ran.push_back(ScriptsRun(c[i]) - before[i]);
    }
    return lease->token;
  };
  EXPECT_EQ(pair(), 1u);  // fresh counters agree: acquire and release only
  EXPECT_EQ(ran, (std::vector<long>{2, 2, 2}));
  set_counters({10, 20, 30});  // any majority disagrees: round 2 raises it
  EXPECT_GE(pair(), 21u);
  EXPECT_GE(std::count(ran.begin(), ran.end(), 3), 2) << "round 2 ran on too few instances";
  set_counters({40, 40, 40});  // they agree again
  EXPECT_EQ(pair(), 41u);
  EXPECT_EQ(ran, (std::vector<long>{2, 2, 2}));
}

TEST(RedlockTest, ConcurrentClientsNeverOverlapAndTokensIncrease) {
  std::mutex mu;
  std::vector<FencingToken> order;  // guarded by mu, in critical-section order
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      Locker locker(SharedClusterBackend());
      for (int i = 0; i < 10; ++i) {
        auto lock = locker.Acquire("concurrent", {.wait = seconds(30)});
        ASSERT_TRUE(lock.ok()) << lock.status().ToString();
        if (inside.fetch_add(1) != 0) overlaps++;
        {
          std::lock_guard guard(mu);
          order.push_back(lock->token());
        }
        inside.fetch_sub(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(overlaps.load(), 0);
  ASSERT_EQ(order.size(), 40u);
  for (std::size_t i = 1; i < order.size(); ++i) EXPECT_GT(order[i], order[i - 1]) << i;
}

TEST(RedlockTest, NothingIsLeftBehindAlsoByAFailedQuorum) {
  Cluster& c = *shared_cluster;
  auto backend = Open(c.Uri("?timeout=300ms"));
  auto lease = backend->TryAcquire(Request("leftovers"));
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(backend->Release(*lease).ok());
  c[0].Pause();
  c[1].Pause();
  c[2].Pause();
  auto failed = backend->TryAcquire(Request("leftovers-failed", seconds(30)));
  EXPECT_FALSE(failed.ok());
  c[0].Resume();
  c[1].Resume();
  c[2].Resume();
  for (std::size_t i = 0; i < c.size(); ++i) {
    EXPECT_TRUE(WaitFor([&] {
      return c[i].Cli({"EXISTS", "dlock:{leftovers}", "dlock:{leftovers-failed}"}) == "0\n";
    })) << "instance "
        << i;
  }
}

TEST(RedlockTest, WaiterIsWokenByTheRelease) {
  auto holder = SharedClusterBackend();
  auto faulty = std::make_shared<testing::FaultyBackend>(SharedClusterBackend());
  auto lease = holder->TryAcquire(Request("wake", seconds(30)));
  ASSERT_TRUE(lease.ok());
  Locker locker(faulty);
  std::optional<Result<Lock>> got;
  std::thread waiter([&] { got.emplace(locker.Acquire("wake", {.wait = seconds(20)})); });
  ASSERT_TRUE(WaitFor([&] {
    return (*shared_cluster)[0].Cli({"PUBSUB", "NUMSUB", "dlock:{wake}:released"}).find("\n1") !=
           std::string::npos;
  }));
  auto released_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(holder->Release(*lease).ok());
  waiter.join();
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  EXPECT_GT((*got)->token(), lease->token);
  EXPECT_LT(std::chrono::steady_clock::now() - released_at, seconds(5));
  // One attempt before the wait, one after: a release seen on one instance while the others
  // still hold the key does not wake the waiter.
  EXPECT_EQ(faulty->calls(testing::Op::kTryAcquire), 2);
}

}  // namespace
}  // namespace dlock::test
