// redis+cluster:// against a real Redis Cluster on loopback: six nodes, three masters with
// one replica each (RedisClusterSet). First the harness itself: the cluster it builds, and
// the failovers and slot migrations it drives, as the nodes report them. Then the backend:
// the conformance suite, the hash slot of a key as the servers compute it, locks on every
// master through one backend with their master's configEpoch in their tokens, URIs and
// seeds that are down or not cluster nodes, and following failovers (forced, and by
// stopping a master) and slot migrations without the caller doing anything but retry,
// with tokens that never go back across them, those of a client still talking to the old
// master included.
#include "dlock/backends/redis_cluster.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "conformance/backend_conformance.h"
#include "dlock/backends/redis.h"
#include "dlock/locker.h"
#include "dlock/open.h"
#include "integration/backend_util.h"
#include "integration/redis_cluster_set.h"
#include "integration/server_process.h"
#include "redis/common/client_options.h"
#include "redis/common/replaceable_call.h"
#include "redis/redis_backend.h"
#include "test_util.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using Shared = SharedServer<RedisClusterSet>;
const auto* const env = ::testing::AddGlobalTestEnvironment(new Shared);

std::shared_ptr<Backend> SharedSetBackend() {
  return Shared::get() ? Open(Shared::get()->Uri()) : nullptr;
}

// The conformance suite (tests/conformance: the common semantics, queues, reentrancy,
// multi-locks), its lock names on whichever masters their slots fall.
INSTANTIATE_TEST_SUITE_P(RedisCluster, BackendConformance,
                         ::testing::Values(BackendFactory{"redis_cluster", SharedSetBackend}),
                         FactoryName);

// The slot of lock `name`'s keys.
int SlotOf(const std::string& name) { return RedisClusterKeySlot("dlock:{" + name + "}"); }

// A name `prefix`-N whose slot master `owner` owns in `owners` (RedisClusterSet::Owners).
std::string NameOn(const std::vector<int>& owners, int owner, const std::string& prefix) {
  for (int n = 0; n < 100000; ++n) {
    std::string name = prefix + "-" + std::to_string(n);
    if (owners[SlotOf(name)] == owner) return name;
  }
  ADD_FAILURE() << "no name " << prefix << "-N lands on node " << owner;
  return prefix;
}

// Another name `prefix`-N whose lock has the same slot as `name`'s.
std::string SameSlotAs(const std::string& name, const std::string& prefix) {
  for (int n = 0; n < 10000000; ++n) {
    std::string other = prefix + "-" + std::to_string(n);
    if (SlotOf(other) == SlotOf(name)) return other;
  }
  ADD_FAILURE() << "no name " << prefix << "-N shares the slot of " << name;
  return prefix;
}

// What a client of the old master keeps using when it never hears of a failover: the
// redis:// backend on `port` with `epoch` in its tokens, connected (by an Inspect of
// `name`, a lock whose slot that node owns: any other is MOVED).
std::shared_ptr<Backend> StaleClient(std::uint16_t port, std::uint32_t epoch,
                                     const std::string& name) {
  RedisOptions o;
  o.port = port;
  auto client_options = redis::MakeClientOptions(o);
  EXPECT_TRUE(client_options.ok());
  auto backend = redis::MakeBackendOn(o, epoch, std::make_unique<redis::Client>(*client_options),
                                      /*sharded=*/true);
  EXPECT_TRUE(backend.ok());
  auto connected = (*backend)->Inspect(name);
  EXPECT_TRUE(connected.ok()) << connected.status().ToString();
  return *backend;
}

// A caller that does nothing but loop TryAcquire/Release of `name` through `backend`,
// as a program in a retry loop would, from its start until its destruction: the tokens
// granted, in order, and every failure that is not one a retry may cure (kUnavailable,
// kDeadlineExceeded; kContended too if `contended_ok`, after a failover that lost a
// release).
class AcquireLoop {
 public:
  AcquireLoop(std::shared_ptr<Backend> backend, std::string name, bool contended_ok)
      : backend_(std::move(backend)), name_(std::move(name)), contended_ok_(contended_ok) {
    thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
  }
  ~AcquireLoop() { Stop(); }
  void Stop() {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
  }
  std::vector<FencingToken> tokens() const {
    std::lock_guard<std::mutex> l(mu_);
    return tokens_;
  }
  std::size_t granted() const { return tokens().size(); }
  std::vector<std::string> unexpected() const {
    std::lock_guard<std::mutex> l(mu_);
    return unexpected_;
  }
  int retried() const { return retried_; }
  // Waits until `n` more grants than now; false at `limit`.
  bool AwaitMore(std::size_t n, milliseconds limit = seconds(20)) const {
    const std::size_t target = granted() + n;
    return WaitFor([&] { return granted() >= target; }, limit);
  }

 private:
  bool Retryable(Code code) const {
    return code == Code::kUnavailable || code == Code::kDeadlineExceeded ||
           (contended_ok_ && code == Code::kContended);
  }
  void Run(std::stop_token stop) {
    while (!stop.stop_requested()) {
      auto lease = backend_->TryAcquire(Request(name_, seconds(5)));
      std::lock_guard<std::mutex> l(mu_);
      if (!lease.ok()) {
        if (!Retryable(lease.status().code())) unexpected_.push_back(lease.status().ToString());
        retried_++;
        continue;
      }
      tokens_.push_back(lease->token);
      // A release that fails leaves the lock to expire; the next acquire then finds it
      // held, which only a lost release may explain.
      Status released = backend_->Release(*lease);
      if (!released.ok() && !Retryable(released.code()) && released.code() != Code::kNotHeld) {
        unexpected_.push_back("release: " + released.ToString());
      }
    }
  }

  std::shared_ptr<Backend> backend_;
  const std::string name_;
  const bool contended_ok_;
  mutable std::mutex mu_;
  std::vector<FencingToken> tokens_;
  std::vector<std::string> unexpected_;
  std::atomic<int> retried_{0};
  std::jthread thread_;
};

// Strictly increasing, and the first is above `floor`.
::testing::AssertionResult StrictlyIncreasing(const std::vector<FencingToken>& tokens,
                                              FencingToken floor = 0) {
  FencingToken last = floor;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] <= last) {
      return ::testing::AssertionFailure()
             << "token " << i << " (" << tokens[i] << ", epoch " << EpochOf(tokens[i])
             << ") is not above " << last << " (epoch " << EpochOf(last) << ")";
    }
    last = tokens[i];
  }
  return ::testing::AssertionSuccess();
}

// RedisClusterKeySlot is CLUSTER KEYSLOT, hash tags and all.
TEST(RedisClusterKeySlotTest, IsTheServersClusterKeyslot) {
  EXPECT_EQ(RedisClusterKeySlot("123456789"), 12739);  // CRC16/XMODEM's check value
  auto* set = Shared::get();
  ASSERT_NE(set, nullptr);
  std::vector<std::string> keys = {"dlock:{a}",
                                   "dlock:{orders/42}",
                                   "dlock:{orders/42}:fence",
                                   "dlock:{orders/42}:line",
                                   "dlock:{orders/42}:epoch",
                                   "123456789",
                                   "a",
                                   "foo",
                                   "{}",
                                   "{}a",
                                   "a{}",
                                   "a{}b",
                                   "{}{a}",
                                   "{a}{b}",
                                   "{a}",
                                   "a{b}c",
                                   "a{b",
                                   "a}b",
                                   "}{a}",
                                   "{{a}}",
                                   "a{b{c}d}",
                                   "{a}}",
                                   "dlock:{}",
                                   "dlock:{ }:fence",
                                   "dlock:{naïve}",
                                   "dlock:{a b c}",
                                   "x{y}z{w}",
                                   "user:1000",
                                   "{user:1000}:x",
                                   "dlock:{orders/42}:fence{other}",
                                   "0",
                                   "16383",
                                   "dlock:lock-without-tag"};
  for (int i = 0; i < 12; ++i) keys.push_back("dlock:{lock-" + std::to_string(i * 7919) + "}");
  for (const auto& key : keys) {
    EXPECT_EQ(RedisClusterKeySlot(key), set->KeySlot(key)) << key;
  }
  EXPECT_EQ(RedisClusterKeySlot("dlock:{orders/42}:fence"), RedisClusterKeySlot("orders/42"));
  EXPECT_NE(RedisClusterKeySlot("{}a"), RedisClusterKeySlot("{}b"));
}

// One backend, locks on each of the three masters: each lives on its slot's master, and
// its tokens carry that master's configEpoch.
TEST(RedisClusterTest, LocksOnEveryMasterThroughOneBackendCarryTheirMastersEpoch) {
  auto* set = Shared::get();
  ASSERT_NE(set, nullptr);
  ASSERT_TRUE(set->AwaitHealthy());
  auto backend = Open(set->Uri());
  ASSERT_NE(backend, nullptr);
  const auto owners = set->Owners();
  const auto masters = set->Masters();
  ASSERT_EQ(masters.size(), 3U);
  std::vector<std::pair<std::string, Lease>> held;
  for (int m : masters) {
    const std::string name = NameOn(owners, m, "every");
    auto tokens = Grants(*backend, name, 3);
    ASSERT_EQ(tokens.size(), 3U) << name;
    EXPECT_TRUE(StrictlyIncreasing(tokens));
    for (auto t : tokens) {
      EXPECT_EQ(EpochOf(t), static_cast<FencingToken>(set->ConfigEpoch(m))) << name;
    }
    EXPECT_EQ(set->Cli(m, {"EXISTS", "dlock:{" + name + "}:fence"}), std::vector<std::string>{"1"})
        << name << " on node " << m;
    auto lease = backend->TryAcquire(Request(name));
    ASSERT_TRUE(lease.ok()) << lease.status().ToString();
    EXPECT_GT(lease->token, tokens.back());
    EXPECT_EQ(set->Cli(m, {"EXISTS", "dlock:{" + name + "}"}), std::vector<std::string>{"1"});
    held.emplace_back(name, *lease);
  }
  // All three held at once; another process sees them held, and cannot take them.
  auto other = Open(set->Uri());
  ASSERT_NE(other, nullptr);
  for (const auto& [name, lease] : held) {
    auto seen = other->Inspect(name);
    ASSERT_TRUE(seen.ok()) << seen.status().ToString();
    EXPECT_TRUE(seen->held) << name;
    EXPECT_EQ(seen->token, lease.token);
    EXPECT_EQ(other->TryAcquire(Request(name)).status().code(), Code::kContended) << name;
  }
  for (const auto& [name, lease] : held) EXPECT_TRUE(backend->Release(lease).ok()) << name;
  for (const auto& [name, lease] : held) EXPECT_FALSE(other->Inspect(name)->held) << name;
}

TEST(RedisClusterUriTest, BadUrisAreInvalidArgumentInOneLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"redis+cluster://", "needs a host"},
      {"redis+cluster:///", "needs a host"},
      {"redis+cluster://127.0.0.1:7000/1", "only database 0"},
      {"redis+cluster://127.0.0.1:7000,127.0.0.1:7001/3", "no database 3"},
      {"rediss+cluster://127.0.0.1:7000/2", "only database 0"},
      {"redis+cluster://127.0.0.1:7000?bogus=1", "bogus"},
      {"redis+cluster://127.0.0.1:99999", "port"},
      {"redis+cluster://127.0.0.1:x", "port"},
  };
  for (const auto& [uri, says] : cases) {
    Status s = OpenStatus(uri);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << uri << ": " << s.ToString();
    EXPECT_NE(s.message().find(says), std::string::npos) << uri << ": " << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << uri;
  }
  auto parsed = ParseBackendUri("redis+cluster://u:pw@127.0.0.1,10.0.0.2:7001/0?timeout=3s");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto o = RedisClusterOptionsFromUri(*parsed);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_EQ(o->seeds.size(), 2U);
  EXPECT_EQ(o->seeds[0].host, "127.0.0.1");
  EXPECT_EQ(o->seeds[1].host, "10.0.0.2");
  EXPECT_EQ(o->seeds[1].port, 7001);
  EXPECT_EQ(o->node.user, "u");
  EXPECT_EQ(o->node.password, "pw");
  EXPECT_EQ(o->node.db, 0);
}

TEST(RedisClusterTest, AllSeedsDownIsUnavailableNamingEachInOneLine) {
  const auto a = ClosedPort(), b = ClosedPort(), c = ClosedPort();
  Status s =
      OpenStatus(fmt::format("redis+cluster://127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}", a, b, c));
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  for (auto port : {a, b, c}) {
    EXPECT_NE(s.message().find(fmt::format("127.0.0.1:{}", port)), std::string::npos)
        << s.message();
  }
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
}

// A name whose keys would not share one hash tag ("}x": the key PREFIX{}x} has an empty
// tag) is refused at once, not retried on CROSSSLOT until the deadline; a name with a
// '}' further in keeps its keys in one slot and works.
TEST(RedisClusterTest, ANameWhoseKeysWouldSpanSlotsIsInvalidAtOnce) {
  auto backend = SharedSetBackend();
  ASSERT_NE(backend, nullptr);
  auto refused = backend->TryAcquire(Request("}x", seconds(5)));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument) << refused.status().ToString();
  EXPECT_EQ(refused.status().message().find('\n'), std::string::npos);
  auto lease = backend->TryAcquire(Request("x}y", seconds(5)));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_TRUE(backend->Release(*lease).ok());
}

// A seed that is a redis-server without cluster mode: refused as misconfigured, not
// retried as if it were down.
TEST(RedisClusterTest, APlainRedisServerAsSeedIsFailedPrecondition) {
  auto plain = RedisServer::Start();
  ASSERT_NE(plain, nullptr);
  Status s = OpenStatus(fmt::format("redis+cluster://127.0.0.1:{}", plain->port()));
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find(fmt::format("127.0.0.1:{} is not a cluster node", plain->port())),
            std::string::npos)
      << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
}

// A lock on each master of `set`, twice, through `backend`: its options (a password, TLS)
// reach every master, not only the seeds.
void ExpectLocksOnEveryMaster(RedisClusterSet& set, Backend& backend, const std::string& prefix) {
  const auto owners = set.Owners();
  const auto masters = set.Masters();
  ASSERT_EQ(masters.size(), 3U);
  for (int m : masters) {
    const std::string name = NameOn(owners, m, prefix);
    auto tokens = Grants(backend, name, 2);
    ASSERT_EQ(tokens.size(), 2U) << name;
    EXPECT_EQ(EpochOf(tokens[0]), static_cast<FencingToken>(set.ConfigEpoch(m))) << name;
    EXPECT_EQ(tokens[1], tokens[0] + 1) << name;
  }
}

// A cluster with a password on every node: with it, locks on every master; without it or
// with a wrong one, a refusal as misconfigured (kFailedPrecondition) in one line that never
// shows it.
TEST(RedisClusterTest, APasswordProtectedClusterNeedsThePasswordOnEveryNode) {
  auto set = RedisClusterSet::Start({.password = "hunter2"});
  ASSERT_NE(set, nullptr);
  auto backend = Open(set->Uri("", ":hunter2"));
  ASSERT_NE(backend, nullptr);
  ExpectLocksOnEveryMaster(*set, *backend, "auth");
  for (const std::string userinfo : {"", ":nope"}) {
    Status s = OpenStatus(set->Uri("", userinfo));
    EXPECT_EQ(s.code(), Code::kFailedPrecondition) << userinfo << ": " << s.ToString();
    EXPECT_EQ(s.message().find("nope"), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  }
}

// rediss+cluster://: TLS to every node (a cluster whose bus and replication are TLS too),
// verified against ?cacert=; without it, the untrusted certificate is kFailedPrecondition.
TEST(RedisClusterTest, RedissClusterVerifiesEveryNode) {
  TempDir dir;
  TlsFiles tls;
  ASSERT_TRUE(tls.Make(dir.path() / "tls", "dlock-test-ca"));
  auto set = RedisClusterSet::Start({.tls = &tls});
  ASSERT_NE(set, nullptr);
  ASSERT_EQ(set->Uri().rfind("rediss+cluster://", 0), 0U) << set->Uri();
  auto backend = Open(set->Uri("?cacert=" + tls.ca_cert.string()));
  ASSERT_NE(backend, nullptr);
  ExpectLocksOnEveryMaster(*set, *backend, "tls");
  Status untrusted = OpenStatus(set->Uri());
  EXPECT_EQ(untrusted.code(), Code::kFailedPrecondition) << untrusted.ToString();
  EXPECT_NE(untrusted.message().find("cacert"), std::string::npos) << untrusted.message();
  EXPECT_EQ(untrusted.message().find('\n'), std::string::npos) << untrusted.message();
}

// CLUSTER FAILOVER of the master of a lock's slot while one client holds the lock,
// another waits for it and a third loops acquire/release of another lock of the same
// master: all follow the new master by themselves, and every token granted after is
// above every token granted before, under the new master's configEpoch.
TEST(RedisClusterTest, FollowsAForcedFailoverWhileHoldingWaitingAndLooping) {
  auto* set = Shared::get();
  ASSERT_NE(set, nullptr);
  ASSERT_TRUE(set->AwaitHealthy());
  const auto owners = set->Owners();
  const std::string name = NameOn(owners, owners[0], "ff");
  const int old = owners[SlotOf(name)];
  const int heir = set->ReplicaOf(old);
  ASSERT_GE(heir, 0);
  const std::string looped = NameOn(owners, old, "ff-loop");
  auto holder_backend = Open(set->Uri());
  auto waiter_backend = Open(set->Uri());
  ASSERT_NE(holder_backend, nullptr);
  ASSERT_NE(waiter_backend, nullptr);
  auto before = Grants(*holder_backend, name, 3);
  ASSERT_EQ(before.size(), 3U);
  Locker holder(holder_backend, {.ttl = seconds(3)});
  Locker waiter(waiter_backend, {.ttl = seconds(3)});
  auto held = holder.Acquire(name);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_GT(held->token(), before.back());
  auto waited =
      std::async(std::launch::async, [&] { return waiter.Acquire(name, {.wait = seconds(30)}); });
  AcquireLoop loop(waiter_backend, looped, /*contended_ok=*/false);
  ASSERT_TRUE(loop.AwaitMore(3));
  const auto loop_before = loop.tokens();

  ASSERT_TRUE(set->Failover(heir));
  const auto epoch = set->ConfigEpoch(heir);
  // A failover gives the promoted replica a configEpoch above every other node's.
  for (int m : set->Masters()) {
    if (m != heir) {
      EXPECT_GT(epoch, set->ConfigEpoch(m)) << m;
    }
  }
  EXPECT_GT(epoch, EpochOf(loop_before.back()));
  // The holder's renewals go on against the new master, which has its key.
  ASSERT_TRUE(WaitFor([&] { return holder_backend->Inspect(name).ok(); }, seconds(5)));
  EXPECT_TRUE(WaitFor(
      [&] {
        auto seen = holder_backend->Inspect(name);
        return seen.ok() && seen->held && seen->token == held->token();
      },
      seconds(5)));
  EXPECT_FALSE(held->lost().stop_requested());
  EXPECT_TRUE(held->Release().ok());

  auto got = waited.get();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_GT(got->token(), held->token());
  EXPECT_EQ(EpochOf(got->token()), static_cast<FencingToken>(epoch));
  EXPECT_TRUE(got->Release().ok());
  auto after = Grants(*holder_backend, name, 3);
  ASSERT_EQ(after.size(), 3U);
  EXPECT_TRUE(StrictlyIncreasing(after, got->token()));
  EXPECT_EQ(set->Cli(heir, {"EXISTS", "dlock:{" + name + "}:epoch"}),
            std::vector<std::string>{"1"});

  // The loop went on through the failover, granted under the new epoch in the end.
  ASSERT_TRUE(loop.AwaitMore(3));
  loop.Stop();
  const auto tokens = loop.tokens();
  EXPECT_TRUE(StrictlyIncreasing(tokens));
  EXPECT_EQ(EpochOf(tokens.back()), static_cast<FencingToken>(epoch));
  EXPECT_LT(EpochOf(loop_before.back()), static_cast<FencingToken>(epoch));
  EXPECT_THAT(loop.unexpected(), ::testing::IsEmpty());
  EXPECT_TRUE(set->AwaitHealthy());
}

// SIGSTOP of the master of a lock's slot while a caller loops acquire/release: the
// cluster promotes the replica, the caller's loop goes on there, tokens strictly
// increase across it. A client still talking to the old master when it wakes (its
// request was on the wire while it was stopped, so the old master may run it before it
// learns of its demotion) is granted, if at all, a token of the old epoch: lower than
// every token of the new master. Once demoted, the old master grants nothing.
TEST(RedisClusterTest, TokensIncreaseAcrossAFailoverOfAStoppedMaster) {
  auto* set = Shared::get();
  ASSERT_NE(set, nullptr);
  ASSERT_TRUE(set->AwaitHealthy());
  const auto owners = set->Owners();
  const int old = owners[16383];
  const std::string name = NameOn(owners, old, "stop");
  const int slot = SlotOf(name);
  const int heir = set->ReplicaOf(old);
  ASSERT_GE(heir, 0);
  auto backend = Open(set->Uri());
  ASSERT_NE(backend, nullptr);
  auto before = Grants(*backend, name, 3);
  ASSERT_EQ(before.size(), 3U);
  const auto old_epoch = static_cast<std::uint32_t>(EpochOf(before.back()));
  EXPECT_EQ(old_epoch, set->ConfigEpoch(old));
  // The stale client's lock: another of the same master, free when it is stopped (the
  // loop's may be left held by a release the stop cut off).
  const std::string fenced = NameOn(owners, old, "stop-stale");
  auto fenced_before = Grants(*backend, fenced, 1);
  ASSERT_EQ(fenced_before.size(), 1U);
  auto stale = StaleClient(set->server(old).port(), old_epoch, fenced);

  AcquireLoop loop(backend, name, /*contended_ok=*/true);
  ASSERT_TRUE(loop.AwaitMore(3));
  ScopedPause pause(*set, old);
  const int now = set->AwaitPromotion(old, slot);
  ASSERT_EQ(now, heir);
  const auto new_epoch = set->ConfigEpoch(now);
  EXPECT_GT(new_epoch, old_epoch);
  ASSERT_TRUE(loop.AwaitMore(3)) << "the loop did not acquire on the new master; " << loop.retried()
                                 << " retries";
  auto tokens = loop.tokens();
  const auto first_new = std::find_if(tokens.begin(), tokens.end(),
                                      [&](FencingToken t) { return EpochOf(t) > old_epoch; });
  ASSERT_NE(first_new, tokens.end());
  EXPECT_EQ(EpochOf(*first_new), static_cast<FencingToken>(new_epoch));
  auto fenced_new = Grants(*backend, fenced, 1);
  ASSERT_EQ(fenced_new.size(), 1U);
  EXPECT_EQ(EpochOf(fenced_new[0]), static_cast<FencingToken>(new_epoch));

  auto stale_grant = std::async(std::launch::async,
                                [&] { return stale->TryAcquire(Request(fenced, seconds(5))); });
  // Not a synchronisation: gives the request time to reach the stopped server's socket
  // buffer, so that the old master may run it when it wakes. Either outcome is checked.
  std::this_thread::sleep_for(milliseconds(200));
  set->Resume(old);
  auto stale_lease = stale_grant.get();
  std::cout << "the old master, woken: "
            << (stale_lease.ok() ? fmt::format("granted {}", stale_lease->token)
                                 : stale_lease.status().ToString())
            << "\n";
  if (stale_lease.ok()) {
    EXPECT_LT(stale_lease->token, fenced_new[0]);
    EXPECT_EQ(EpochOf(stale_lease->token), old_epoch);
    EXPECT_GT(stale_lease->token, fenced_before[0]);
  }

  ASSERT_TRUE(set->AwaitHealthy());
  EXPECT_EQ(set->Role(old), "slave");
  ASSERT_TRUE(loop.AwaitMore(3));
  loop.Stop();
  tokens = loop.tokens();
  EXPECT_TRUE(StrictlyIncreasing(tokens, before.back()));
  EXPECT_EQ(EpochOf(tokens.back()), static_cast<FencingToken>(new_epoch));
  EXPECT_THAT(loop.unexpected(), ::testing::IsEmpty());
  auto refused = stale->TryAcquire(Request(NameOn(owners, old, "stop-late"), seconds(5)));
  EXPECT_FALSE(refused.ok()) << "the demoted master granted token " << refused->token;
  auto after = Grants(*backend, name, 3);
  ASSERT_EQ(after.size(), 3U);
  EXPECT_TRUE(StrictlyIncreasing(after, tokens.back()));
  auto fenced_after = Grants(*backend, fenced, 3);
  ASSERT_EQ(fenced_after.size(), 3U);
  EXPECT_TRUE(StrictlyIncreasing(fenced_after, fenced_new[0]));
  if (stale_lease.ok()) {
    EXPECT_GT(fenced_after[0], stale_lease->token);
  }
}

// A lock's slot migrated to another master (SETSLOT IMPORTING/MIGRATING, MIGRATE of its
// keys, SETSLOT NODE) while a caller loops acquire/release: during the window only
// retryable errors reach it; after, it acquires on the new owner, whose configEpoch the
// migration raised above every other, and tokens strictly increase across it.
TEST(RedisClusterTest, FollowsASlotMigrationWhileAcquiring) {
  auto* set = Shared::get();
  ASSERT_NE(set, nullptr);
  ASSERT_TRUE(set->AwaitHealthy());
  const auto owners = set->Owners();
  const auto masters = set->Masters();
  ASSERT_EQ(masters.size(), 3U);
  const int from = masters[0], to = masters[1];
  const std::string name = NameOn(owners, from, "migrate");
  const int slot = SlotOf(name);
  auto backend = Open(set->Uri());
  ASSERT_NE(backend, nullptr);
  auto before = Grants(*backend, name, 3);
  ASSERT_EQ(before.size(), 3U);
  EXPECT_EQ(EpochOf(before.back()), static_cast<FencingToken>(set->ConfigEpoch(from)));

  AcquireLoop loop(backend, name, /*contended_ok=*/false);
  ASSERT_TRUE(loop.AwaitMore(3));
  // A backend that learns the slot map before the migration and makes no call during it:
  // its first call after, on another lock of the slot, goes to the old owner, which
  // answers MOVED.
  auto idle = Open(set->Uri());
  ASSERT_NE(idle, nullptr);
  const std::string twin = SameSlotAs(name, "migrate-twin");
  auto idle_before = Grants(*idle, twin, 1);
  ASSERT_EQ(idle_before.size(), 1U);
  // A holder of a third lock of the slot, renewing, and a waiter for it, listening on the
  // slot's shard channel, which the old owner ends when the slot leaves it.
  const std::string contested = SameSlotAs(name, "migrate-held");
  auto waiter_backend = Open(set->Uri());
  ASSERT_NE(waiter_backend, nullptr);
  auto waiting = std::make_shared<WaitingCounter>();
  Locker holder(backend, {.ttl = seconds(3)});
  Locker waiter(waiter_backend, {.ttl = seconds(3), .listener = waiting});
  auto held = holder.Acquire(contested);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  auto waited = std::async(std::launch::async,
                           [&] { return waiter.Acquire(contested, {.wait = seconds(30)}); });
  ASSERT_TRUE(WaitFor([&] { return waiting->waiting() > 0; }, seconds(10)));
  // The shard channels of the lock that a node has subscribers on.
  const auto channels = [&](int node) {
    auto lines = set->Cli(node, {"PUBSUB", "SHARDCHANNELS", "dlock:{" + contested + "}:*"});
    lines.erase(std::remove(lines.begin(), lines.end(), ""), lines.end());
    return lines;
  };
  EXPECT_TRUE(WaitFor([&] { return !channels(from).empty(); }, seconds(5)));
  // A caller that gives up on a call after 500 ms.
  auto impatient = Open(set->Uri("?timeout=500ms"));
  ASSERT_NE(impatient, nullptr);
  ScopedMigration migration(*set, slot, to);
  ASSERT_TRUE(migration.ok());
  const int moved = set->MigrateKeys(slot);
  EXPECT_GE(moved, 1);  // the counter at least
  // Every key is on the new owner, which does not own the slot yet: the old one answers
  // ASK. The call is tried again until its time runs out; it grants nothing.
  auto in_window = impatient->TryAcquire(Request(name));
  EXPECT_FALSE(in_window.ok()) << "granted " << in_window->token << " while the slot moves";
  if (!in_window.ok()) {
    EXPECT_TRUE(in_window.status().code() == Code::kUnavailable ||
                in_window.status().code() == Code::kDeadlineExceeded)
        << in_window.status().ToString();
  }
  ASSERT_TRUE(set->FinishMigration(slot, to));
  const auto epoch = set->ConfigEpoch(to);
  for (int m : masters) {
    if (m != to) {
      EXPECT_GT(epoch, set->ConfigEpoch(m));
    }
  }
  ASSERT_TRUE(loop.AwaitMore(3)) << loop.retried() << " retries";
  loop.Stop();
  const auto tokens = loop.tokens();
  EXPECT_TRUE(StrictlyIncreasing(tokens, before.back()));
  EXPECT_EQ(EpochOf(tokens.back()), static_cast<FencingToken>(epoch));
  EXPECT_THAT(loop.unexpected(), ::testing::IsEmpty());
  EXPECT_EQ(set->Cli(to, {"EXISTS", "dlock:{" + name + "}:fence"}), std::vector<std::string>{"1"});
  auto after = Grants(*backend, name, 3);
  ASSERT_EQ(after.size(), 3U);
  EXPECT_TRUE(StrictlyIncreasing(after, tokens.back()));
  // The waiter listens on the new owner now (the old one ended its subscription).
  EXPECT_TRUE(WaitFor([&] { return !channels(to).empty(); }, seconds(5)));
  EXPECT_THAT(channels(from), ::testing::IsEmpty());
  // The holder kept its lock across the migration; once it lets go, the waiter has it,
  // under the new owner's epoch.
  EXPECT_FALSE(held->lost().stop_requested());
  EXPECT_TRUE(WaitFor(
      [&] {
        auto seen = waiter_backend->Inspect(contested);
        return seen.ok() && seen->held && seen->token == held->token();
      },
      seconds(5)));
  EXPECT_EQ(waited.wait_for(milliseconds(0)), std::future_status::timeout);
  EXPECT_TRUE(held->Release().ok());
  auto got = waited.get();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_GT(got->token(), held->token());
  EXPECT_EQ(EpochOf(got->token()), static_cast<FencingToken>(epoch));
  EXPECT_TRUE(got->Release().ok());

  auto redirected = idle->TryAcquire(Request(twin, seconds(5)));
  ASSERT_TRUE(redirected.ok()) << redirected.status().ToString();
  EXPECT_GT(redirected->token, idle_before[0]);
  EXPECT_EQ(EpochOf(redirected->token), static_cast<FencingToken>(epoch));
  EXPECT_TRUE(idle->Release(*redirected).ok());
  auto fresh = Open(set->Uri());
  ASSERT_NE(fresh, nullptr);
  auto fresh_tokens = Grants(*fresh, name, 1);
  ASSERT_EQ(fresh_tokens.size(), 1U);
  EXPECT_GT(fresh_tokens[0], after.back());
  EXPECT_TRUE(set->AwaitHealthy());
}

// A slot that no master serves (the map names none, as it may in a failover) is looked up
// again within the command timeout: an acquire started while no node served its slot is
// granted once the slot is served again, and one whose slot stays unserved is
// kUnavailable, saying so, after its timeout.
TEST(RedisClusterTest, AnUnservedSlotIsLookedUpAgainWithinTheTimeout) {
  auto* set = Shared::get();
  ASSERT_NE(set, nullptr);
  ASSERT_TRUE(set->AwaitHealthy());
  const auto owners = set->Owners();
  const int master = set->Masters().front();
  const std::string name = NameOn(owners, master, "unserved");
  const std::string slot = std::to_string(SlotOf(name));
  // The slot taken from every node's map (each node forgets it itself), given back to
  // its master at scope exit in any case.
  struct Unserved {
    RedisClusterSet* set;
    int master;
    std::string slot;
    bool served = false;
    void Serve() {
      if (!served) set->Cli(static_cast<std::size_t>(master), {"CLUSTER", "ADDSLOTS", slot});
      served = true;
    }
    ~Unserved() {
      Serve();
      EXPECT_TRUE(set->AwaitHealthy());
    }
  } unserved{set, master, slot};
  for (std::size_t i = 0; i < set->size(); ++i) set->Cli(i, {"CLUSTER", "DELSLOTS", slot});
  ASSERT_TRUE(WaitFor([&] { return set->Owners()[SlotOf(name)] == -1 && set->Masters().empty(); },
                      seconds(10), milliseconds(50)));

  // Stays unserved: kUnavailable after the timeout, not at once.
  auto impatient = Open(set->Uri("?timeout=300ms"));
  ASSERT_NE(impatient, nullptr);
  const auto asked = std::chrono::steady_clock::now();
  auto refused = impatient->TryAcquire(Request(name, seconds(10)));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("serves slot " + slot), std::string::npos)
      << refused.status().ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - asked, milliseconds(250));

  // Served again while an acquire looks it up: granted, with the master's epoch.
  const auto map_reads = [&] {  // CLUSTER NODES calls, summed over the nodes (INFO: none)
    long calls = 0;
    for (std::size_t i = 0; i < set->size(); ++i) {
      for (const auto& line : set->Cli(i, {"INFO", "commandstats"})) {
        const std::string field = "cmdstat_cluster|nodes:calls=";
        if (line.rfind(field, 0) == 0) calls += std::stol(line.substr(field.size()));
      }
    }
    return calls;
  };
  auto patient = Open(set->Uri("?timeout=20s"));
  ASSERT_NE(patient, nullptr);
  const long before = map_reads();
  auto granted = std::async(std::launch::async,
                            [&] { return patient->TryAcquire(Request(name, seconds(10))); });
  // The acquire re-reads the map while the slot is unserved.
  ASSERT_TRUE(WaitFor([&] { return map_reads() - before >= 3; }, seconds(10), milliseconds(20)));
  ASSERT_EQ(granted.wait_for(milliseconds(0)), std::future_status::timeout);
  unserved.Serve();
  ASSERT_EQ(granted.wait_for(seconds(20)), std::future_status::ready);
  auto lease = granted.get();
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(EpochOf(lease->token), static_cast<FencingToken>(set->ConfigEpoch(master)));
  EXPECT_TRUE(patient->Release(*lease).ok());
}

// Issue 17: a client acquiring 10,000 names spread over all slots while `redis-cli
// --cluster reshard` moves a few hundred slots from one master to another and back, again
// and again, gets every grant or a retryable error (kUnavailable, kDeadlineExceeded),
// never a wrong-node error (MOVED, ASK, TRYAGAIN, CROSSSLOT, CLUSTERDOWN) and no other
// code. The grants are held (60 s TTL) across at least one whole reshard, so that the
// slots it moves carry held locks, then released while the resharding goes on; after it,
// every name is free again.
TEST(RedisClusterTest, TenThousandNamesDuringAReshardingGetGrantsOrRetryableErrors) {
  using Clock = std::chrono::steady_clock;
  auto* set = Shared::get();
  ASSERT_NE(set, nullptr);
  ASSERT_TRUE(set->AwaitHealthy());
  constexpr int kNames = 10000;
  constexpr int kSlotsPerReshard = 300;
  const auto owners = set->Owners();
  const auto masters = set->Masters();
  ASSERT_EQ(masters.size(), 3U);
  std::map<int, int> slots_before;  // master -> slots it owns
  for (int o : owners) slots_before[o]++;

  std::vector<std::string> names;
  std::set<int> slots, on_masters;
  for (int i = 0; i < kNames; ++i) {
    names.push_back("reshard-" + std::to_string(i));
    slots.insert(SlotOf(names.back()));
    on_masters.insert(owners[SlotOf(names.back())]);
  }
  EXPECT_EQ(on_masters.size(), 3U);
  EXPECT_GT(slots.size(), 5000U);
  // redis-cli takes a source's lowest slots first: the master of slot 0 gives its lowest
  // slots to another, which gives back its own lowest, the same ones.
  const int a = owners[0];
  const int b = masters[0] != a ? masters[0] : masters[1];
  std::set<int> moving;
  for (int s = 0; s < RedisClusterSet::kSlots && moving.size() < kSlotsPerReshard; ++s) {
    if (owners[s] == a) moving.insert(s);
  }

  auto backend = Open(set->Uri());
  ASSERT_NE(backend, nullptr);

  // Every result: OK, retryable (counted by code), or bad (kept with its name's slot).
  std::map<Code, int> retried;
  std::vector<std::string> bad;
  auto check = [&](const Status& s, const std::string& what, const std::string& name) {
    if (s.ok()) return true;
    bool wrong_node = false;
    for (const char* word : {"MOVED", "ASK", "TRYAGAIN", "CROSSSLOT", "CLUSTERDOWN"}) {
      wrong_node = wrong_node || s.message().find(word) != std::string::npos;
    }
    if (wrong_node || (s.code() != Code::kUnavailable && s.code() != Code::kDeadlineExceeded)) {
      bad.push_back(fmt::format("{} {} (slot {}): {}", what, name, SlotOf(name), s.ToString()));
    } else {
      retried[s.code()]++;
    }
    return false;
  };

  // The resharding, in pairs (a to b, then back), until the client is done.
  std::atomic<bool> done{false};
  std::mutex mu;
  std::vector<Clock::time_point> reshard_ends;  // guarded by mu
  int slots_moved = 0;                          // guarded by mu
  const auto reshards = [&] {
    std::lock_guard<std::mutex> l(mu);
    return reshard_ends.size();
  };
  // The redirections the nodes answered (INFO errorstats, summed over the nodes): what
  // the backend followed or waited out without the caller seeing them.
  const auto redirections = [&] {
    std::map<std::string, long> out;
    for (std::size_t i = 0; i < set->size(); ++i) {
      for (const auto& line : set->Cli(i, {"INFO", "errorstats"})) {
        for (const std::string kind : {"MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN"}) {
          const std::string field = "errorstat_" + kind + ":count=";
          if (line.rfind(field, 0) == 0) out[kind] += std::stol(line.substr(field.size()));
        }
      }
    }
    return out;
  };
  auto redirected = redirections();
  const auto loop_start = Clock::now();
  std::thread resharder([&] {
    while (!done) {
      for (const auto& [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
        if (!set->Reshard(from, to, kSlotsPerReshard)) {
          done = true;
          return;
        }
        std::lock_guard<std::mutex> l(mu);
        reshard_ends.push_back(Clock::now());
        slots_moved += kSlotsPerReshard;
      }
    }
  });

  std::vector<Lease> held;
  std::vector<Lease> unreleased;  // a retryable failure: released again after the resharding
  std::set<std::string> unsure;   // names an acquire or release of failed (retryable)
  for (const auto& name : names) {
    auto lease = backend->TryAcquire(Request(name, seconds(60)));
    if (check(redis::StatusOf(lease), "acquire", name)) {
      held.push_back(*lease);
    } else {
      unsure.insert(name);
    }
  }
  const auto acquired_at = Clock::now();
  const std::size_t during_acquires = reshards();
  // A whole reshard with every grant held: the one under way ends, the next one runs.
  EXPECT_TRUE(WaitFor([&] { return reshards() >= during_acquires + 2 || done; }, seconds(30)));
  int released = 0;
  for (const auto& lease : held) {
    if (check(backend->Release(lease), "release", lease.name)) {
      released++;
    } else {
      unreleased.push_back(lease);
      unsure.insert(lease.name);
    }
  }
  const auto loop_end = Clock::now();
  done = true;
  resharder.join();
  const auto resharding_end = Clock::now();
  for (const auto& [kind, n] : redirections()) redirected[kind] = n - redirected[kind];

  std::vector<Clock::time_point> ends;
  {
    std::lock_guard<std::mutex> l(mu);
    ends = reshard_ends;
  }
  const auto during_loop = std::count_if(ends.begin(), ends.end(), [&](Clock::time_point t) {
    return t > loop_start && t <= loop_end;
  });
  int held_in_moving = 0;
  for (const auto& lease : held) held_in_moving += moving.count(SlotOf(lease.name)) ? 1 : 0;
  const auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<milliseconds>(d).count();
  };
  std::cout << fmt::format(
      "{} names on {} slots: {} granted, {} released; retryable: {} unavailable, {} "
      "deadline-exceeded; bad: {}; {} reshards of {} slots ({} slots moved), {} ended during "
      "the acquires, {} during the loop; {} grants in the moved slots; acquires {} ms, loop {} "
      "ms, resharding {} ms\n",
      kNames, slots.size(), held.size(), released, retried[Code::kUnavailable],
      retried[Code::kDeadlineExceeded], bad.size(), ends.size(), kSlotsPerReshard, slots_moved,
      during_acquires, during_loop, held_in_moving, ms(acquired_at - loop_start),
      ms(loop_end - loop_start), ms(resharding_end - loop_start));
  for (std::size_t i = 0; i < bad.size() && i < 20; ++i) ADD_FAILURE() << bad[i];
  EXPECT_THAT(bad, ::testing::IsEmpty());
  EXPECT_GE(held.size(), 9000U);
  EXPECT_GE(during_loop, 1);
  ASSERT_FALSE(ends.empty());
  EXPECT_LT(loop_start, ends.front());
  EXPECT_GT(held_in_moving, 0);
  // The client's map went stale at each reshard, and the release of a lock it moved was
  // answered MOVED (then sent to the new owner).
  std::cout << fmt::format("the nodes answered {} MOVED, {} ASK, {} TRYAGAIN, {} CLUSTERDOWN\n",
                           redirected["MOVED"], redirected["ASK"], redirected["TRYAGAIN"],
                           redirected["CLUSTERDOWN"]);
  EXPECT_GT(redirected["MOVED"], 0);

  // The resharding ended in pairs: every master owns as many slots as before.
  ASSERT_TRUE(set->AwaitHealthy());
  std::map<int, int> slots_after;
  for (int o : set->Owners()) slots_after[o]++;
  EXPECT_EQ(slots_after, slots_before);

  // What a caller does with a release that failed retryably: it tries again (not held: the
  // first one did release it).
  bad.clear();
  for (const auto& lease : unreleased) {
    Status again = backend->Release(lease);
    if (again.code() != Code::kNotHeld) check(again, "release again", lease.name);
  }
  EXPECT_THAT(bad, ::testing::IsEmpty());
  // None of the names is still held: each is granted again, at once. (A name whose acquire
  // failed retryably may have been granted in a reply that was lost: held for its TTL.)
  int free_again = 0, still_held = 0;
  for (const auto& name : names) {
    auto lease = backend->TryAcquire(Request(name, seconds(5)));
    if (!lease.ok() && lease.status().code() == Code::kContended && unsure.count(name)) {
      still_held++;
      continue;
    }
    if (!check(redis::StatusOf(lease), "acquire after", name)) continue;
    free_again++;
    check(backend->Release(*lease), "release after", name);
  }
  std::cout << fmt::format("after: {} free, {} held by a lost reply\n", free_again, still_held);
  EXPECT_EQ(free_again + still_held, kNames);

  // The names' keys (their fencing counters stay after a release) are deleted from every
  // master, so that the later tests find the slots as they were (a test that counts the
  // keys of a slot it migrates, say).
  long deleted = 0;
  for (int m : set->Masters()) {
    // (Cli quotes each argument with ' for the shell: none in the script.)
    auto n =
        set->Cli(m, {"EVAL",
                     "local n, c = 0, \"0\" repeat local r = redis.call(\"SCAN\", c, \"MATCH\", "
                     "ARGV[1], \"COUNT\", 1000) c = r[1] for _, k in ipairs(r[2]) do "
                     "redis.call(\"DEL\", k) n = n + 1 end until c == \"0\" return n",
                     "0", "dlock:{reshard-*"});
    ASSERT_EQ(n.size(), 1U) << "node " << m << ": " << ::testing::PrintToString(n);
    deleted += std::stol(n[0]);
  }
  std::cout << fmt::format("deleted the names' {} keys\n", deleted);
  EXPECT_GE(deleted, kNames);
  EXPECT_THAT(bad, ::testing::IsEmpty());
}

// Three masters with one replica each own the 16384 slots, each under its own configEpoch.
TEST(RedisClusterSetTest, ThreeMastersWithOneReplicaEachOwnEverySlot) {
  auto* set = Shared::get();
  ASSERT_NE(set, nullptr);
  ASSERT_TRUE(set->AwaitHealthy());
  EXPECT_EQ(set->size(), 6U);
  const auto masters = set->Masters();
  ASSERT_EQ(masters.size(), 3U);
  std::set<std::int64_t> epochs;
  std::set<int> replicas;
  for (int m : masters) {
    EXPECT_EQ(set->Role(m), "master");
    const int r = set->ReplicaOf(m);
    ASSERT_GE(r, 0) << m;
    EXPECT_EQ(set->Role(r), "slave");
    EXPECT_EQ(set->ConfigEpoch(r), set->ConfigEpoch(m));
    replicas.insert(r);
    epochs.insert(set->ConfigEpoch(m));
  }
  EXPECT_EQ(replicas.size(), 3U);
  EXPECT_EQ(epochs.size(), 3U);
  const auto owners = set->Owners();
  EXPECT_EQ(std::count(owners.begin(), owners.end(), -1), 0);
  EXPECT_EQ(set->KeySlot("123456789"), 12739);
  EXPECT_EQ(set->Owner(12739), owners[12739]);
  EXPECT_EQ(set->Uri("?x=1").rfind("redis+cluster://127.0.0.1:", 0), 0U);
}

// A slot moved with its keys: the new owner has them, every node says so, and the new
// owner's configEpoch is above every other.
TEST(RedisClusterSetTest, AMigrationMovesTheSlotAndItsKeys) {
  auto* set = Shared::get();
  ASSERT_NE(set, nullptr);
  ASSERT_TRUE(set->AwaitHealthy());
  const int slot = set->KeySlot("harness-migrate");
  ASSERT_GE(slot, 0);
  const int from = set->Owner(slot);
  ASSERT_GE(from, 0);
  EXPECT_EQ(set->Cli(from, {"SET", "harness-migrate", "v"}), std::vector<std::string>{"OK"});
  EXPECT_EQ(set->Cli(from, {"SET", "{harness-migrate}:2", "w", "PX", "60000"}),
            std::vector<std::string>{"OK"});
  const auto masters = set->Masters();
  const int to = masters[(std::find(masters.begin(), masters.end(), from) - masters.begin() + 1) %
                         masters.size()];
  ScopedMigration migration(*set, slot, to);
  ASSERT_TRUE(migration.ok());
  EXPECT_EQ(set->MigrateKeys(slot), 2);
  ASSERT_TRUE(set->FinishMigration(slot, to));
  EXPECT_EQ(set->Owner(slot), to);
  EXPECT_EQ(set->Cli(to, {"GET", "harness-migrate"}), std::vector<std::string>{"v"});
  EXPECT_EQ(set->Cli(to, {"EXISTS", "{harness-migrate}:2"}), std::vector<std::string>{"1"});
  for (int m : masters) {
    if (m != to) {
      EXPECT_GT(set->ConfigEpoch(to), set->ConfigEpoch(m));
    }
  }
  EXPECT_TRUE(set->AwaitHealthy());
}

// CLUSTER FAILOVER: the replica takes over its master's slots under a higher configEpoch.
TEST(RedisClusterSetTest, AForcedFailoverPromotesTheReplica) {
  auto* set = Shared::get();
  ASSERT_NE(set, nullptr);
  ASSERT_TRUE(set->AwaitHealthy());
  const int old = set->Owner(0);
  ASSERT_GE(old, 0);
  const int replica = set->ReplicaOf(old);
  ASSERT_GE(replica, 0);
  const auto before = set->ConfigEpoch(old);
  ASSERT_TRUE(set->Failover(replica));
  EXPECT_EQ(set->Owner(0), replica);
  EXPECT_EQ(set->ReplicaOf(replica), old);
  EXPECT_GT(set->ConfigEpoch(replica), before);
  EXPECT_TRUE(set->AwaitHealthy());
}

// SIGSTOP of a master: the cluster promotes its replica by itself; resumed, the old master
// comes back as a replica.
TEST(RedisClusterSetTest, AStoppedMasterIsReplacedByItsReplica) {
  auto* set = Shared::get();
  ASSERT_NE(set, nullptr);
  ASSERT_TRUE(set->AwaitHealthy());
  const int old = set->Owner(16383);
  ASSERT_GE(old, 0);
  const int replica = set->ReplicaOf(old);
  ASSERT_GE(replica, 0);
  ScopedPause pause(*set, old);
  EXPECT_EQ(set->AwaitPromotion(old, 16383), replica);
  set->Resume(old);
  ASSERT_TRUE(set->AwaitHealthy());
  EXPECT_EQ(set->ReplicaOf(replica), old);
  EXPECT_EQ(set->Role(old), "slave");
}

}  // namespace
}  // namespace dlock::test
