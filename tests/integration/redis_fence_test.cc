// The Redis guard (dlock/fence/redis.h) against real redis-servers on loopback: a stale
// token's write is refused and changes nothing, a failed write leaves the token as it
// was, tokens compare as unsigned 64-bit numbers, a caller's script body sees its own
// KEYS and ARGV, and a holder paused past its TTL has its late write refused.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "dlock/backends/redis.h"
#include "dlock/fence/redis.h"
#include "dlock/locker.h"
#include "integration/backend_util.h"
#include "integration/redis_server.h"
#include "test_util.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using Shared = SharedServer<RedisServer>;
const auto* const env = ::testing::AddGlobalTestEnvironment(new Shared);

RedisOptions OptionsFor(const RedisServer& server, std::string prefix = "dlock:") {
  RedisOptions o;
  o.port = server.port();
  o.prefix = std::move(prefix);
  return o;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class RedisFenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Shared::get(), nullptr);
    auto guard = fence::MakeRedisGuard(OptionsFor(*Shared::get(), prefix_));
    ASSERT_TRUE(guard.ok()) << guard.status().ToString();
    guard_ = std::move(*guard);
  }

  // A key of this test's own, in resource `resource`'s hash slot.
  std::string Key(const std::string& resource, const std::string& name) const {
    return prefix_ + "{" + resource + "}:" + name;
  }
  // What redis-cli prints for `args` on the shared server, without the last newline.
  static std::string Cli(const std::vector<std::string>& args) {
    std::string out = Shared::get()->Cli(args);
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  static std::string Get(const std::string& key) { return Cli({"GET", key}); }
  FencingToken Highest(const std::string& resource) {
    auto highest = guard_->Highest(resource);
    EXPECT_TRUE(highest.ok()) << highest.status().ToString();
    return highest.ok() ? *highest : 0;
  }

  // Keys of this test's own, even when tests are repeated on one server.
  const std::string prefix_ = std::string("fence-") +
                              ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                              "-" + NewOwnerId() + ":";
  std::unique_ptr<fence::Guard> guard_;
};

TEST_F(RedisFenceTest, ATokenAtLeastTheHighestIsAppliedAndAnOlderOneRefused) {
  const std::string stock = Key("stock", "count");
  EXPECT_EQ(Highest("stock"), 0u);
  auto set = guard_->Apply("stock", 5, {"SET", stock, "19"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(*set, "OK");
  EXPECT_EQ(Get(stock), "19");
  EXPECT_EQ(Highest("stock"), 5u);
  EXPECT_EQ(Get(prefix_ + "{stock}:fence"), "5");  // where the record lives

  auto again = guard_->Apply("stock", 5, {"SET", stock, "18"});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Get(stock), "18");

  auto stale = guard_->Apply("stock", 4, {"SET", stock, "1"});
  EXPECT_EQ(stale.status().code(), Code::kStale) << stale.status().ToString();
  EXPECT_NE(stale.status().message().find("token 4"), std::string::npos);
  EXPECT_NE(stale.status().message().find("token 5"), std::string::npos);
  EXPECT_EQ(Get(stock), "18");
  EXPECT_EQ(Highest("stock"), 5u);
  EXPECT_EQ(guard_->kind(), "redis");
}

TEST_F(RedisFenceTest, CommandsReturnTheirRepliesAsText) {
  const std::string n = Key("r", "n"), h = Key("r", "h"), l = Key("r", "l");
  EXPECT_EQ(*guard_->Apply("r", 1, {"INCRBY", n, "-1"}), "-1");
  EXPECT_EQ(Get(n), "-1");
  EXPECT_EQ(*guard_->Apply("r", 1, {"HSET", h, "f", "v"}), "1");
  EXPECT_EQ(Cli({"HGET", h, "f"}), "v");
  EXPECT_EQ(*guard_->Apply("r", 2, {"DEL", n}), "1");
  EXPECT_EQ(Cli({"EXISTS", n}), "0");
  EXPECT_EQ(*guard_->Apply("r", 2, {"GET", n}), "(nil)");
  EXPECT_EQ(*guard_->Apply("r", 2, {"rpush", l, "a", "b"}), "2");
  EXPECT_EQ(*guard_->Apply("r", 3, {"LRANGE", l, "0", "-1"}), "a\nb");
  EXPECT_EQ(guard_->Apply("r", 3, {"GET", h}).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Highest("r"), 3u);
}

// 2^53 + 1 and 2^53 are one double: they must still compare as the integers they are.
TEST_F(RedisFenceTest, TokensBeyondADoublesPrecisionCompareExactly) {
  const std::string k = Key("big", "v");
  ASSERT_TRUE(guard_->Apply("big", 9007199254740993u, {"SET", k, "a"}).ok());
  auto stale = guard_->Apply("big", 9007199254740992u, {"SET", k, "b"});
  EXPECT_EQ(stale.status().code(), Code::kStale) << stale.status().ToString();
  EXPECT_NE(stale.status().message().find("9007199254740993"), std::string::npos);
  EXPECT_EQ(Get(k), "a");
  EXPECT_EQ(Highest("big"), 9007199254740993u);
  // Fewer digits is smaller, whatever the digits.
  EXPECT_EQ(guard_->Apply("big", 999999999999999u, {"SET", k, "c"}).status().code(), Code::kStale);
  const FencingToken max = std::numeric_limits<FencingToken>::max();
  ASSERT_TRUE(guard_->Apply("big", max - 1, {"SET", k, "d"}).ok());
  ASSERT_TRUE(guard_->Apply("big", max, {"SET", k, "e"}).ok());
  EXPECT_EQ(guard_->Apply("big", max - 1, {"SET", k, "f"}).status().code(), Code::kStale);
  EXPECT_EQ(Get(k), "e");
  EXPECT_EQ(Highest("big"), max);
}

TEST_F(RedisFenceTest, AFailingWriteLeavesTheTokenAndTheDataAsTheyWere) {
  const std::string s = Key("f", "s");
  ASSERT_TRUE(guard_->Apply("f", 3, {"SET", s, "str"}).ok());
  for (const std::vector<std::string>& write : {std::vector<std::string>{"INCRBY", s, "1"},
                                                {"NOSUCHCOMMAND", s},
                                                {"SUBSCRIBE", "x"},
                                                {"HSET", s, "f", "v"}}) {
    auto failed = guard_->Apply("f", 7, write);
    EXPECT_EQ(failed.status().code(), Code::kFailedPrecondition)
        << write[0] << ": " << failed.status().ToString();
    EXPECT_EQ(failed.status().message().find('\n'), std::string::npos);
    EXPECT_EQ(Highest("f"), 3u) << write[0];
    EXPECT_EQ(Get(s), "str") << write[0];
  }
  auto wrong_type = guard_->Apply("f", 7, {"INCRBY", s, "1"});
  EXPECT_NE(wrong_type.status().message().find("not an integer"), std::string::npos)
      << wrong_type.status().ToString();
  // Token 3 is still the highest: 3 applies, 4 too.
  EXPECT_TRUE(guard_->Apply("f", 3, {"SET", s, "three"}).ok());
  EXPECT_TRUE(guard_->Apply("f", 4, {"SET", s, "four"}).ok());
  EXPECT_EQ(Highest("f"), 4u);
}

TEST_F(RedisFenceTest, ACallersScriptBodySeesItsOwnKeysAndArgv) {
  const std::string doc = Key("doc", "body"), other = Key("doc", "other");
  // The last line a comment: the body still ends where it should.
  const std::string body =
      "redis.call('SET', KEYS[1], ARGV[1])\n"
      "redis.call('SET', KEYS[2], ARGV[2])\n"
      "return {KEYS[1], ARGV[1], #KEYS, #ARGV}\n"
      "-- done";
  auto applied = guard_->Apply("doc", 10, {"EVAL", body, "2", doc, other, "hello", "world"});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(Lines(*applied), (std::vector<std::string>{doc, "hello", "2", "2"}));
  EXPECT_EQ(Get(doc), "hello");
  EXPECT_EQ(Get(other), "world");
  EXPECT_EQ(Highest("doc"), 10u);

  auto stale = guard_->Apply("doc", 9, {"EVAL", body, "2", doc, other, "late", "late"});
  EXPECT_EQ(stale.status().code(), Code::kStale) << stale.status().ToString();
  EXPECT_EQ(Get(doc), "hello");

  // No keys, and after the server lost its script cache (EVALSHA answers NOSCRIPT).
  Cli({"SCRIPT", "FLUSH"});
  auto no_keys = guard_->Apply("doc", 11, {"eval", "return #KEYS .. ':' .. ARGV[1]", "0", "x"});
  ASSERT_TRUE(no_keys.ok()) << no_keys.status().ToString();
  EXPECT_EQ(*no_keys, "0:x");
  auto cached = guard_->Apply("doc", 11, {"EVAL", "return #KEYS .. ':' .. ARGV[1]", "0", "y"});
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  EXPECT_EQ(*cached, "0:y");
  EXPECT_EQ(Highest("doc"), 11u);
}

TEST_F(RedisFenceTest, AScriptBodyThatFailsLeavesTheTokenAsItWas) {
  const std::string doc = Key("doc", "v");
  ASSERT_TRUE(guard_->Apply("doc", 2, {"SET", doc, "kept"}).ok());
  for (const std::string& body : {std::string("return redis.call('INCR', KEYS[1])"),
                                  std::string("return redis.error_reply('MINE refused')"),
                                  std::string("return redis.pcall('INCR', KEYS[1])"),
                                  std::string("error('boom')"), std::string("return (")}) {
    auto failed = guard_->Apply("doc", 8, {"EVAL", body, "1", doc});
    EXPECT_EQ(failed.status().code(), Code::kFailedPrecondition)
        << body << ": " << failed.status().ToString();
    EXPECT_EQ(failed.status().message().find('\n'), std::string::npos) << body;
    EXPECT_EQ(Highest("doc"), 2u) << body;
    EXPECT_EQ(Get(doc), "kept") << body;
  }
  auto mine = guard_->Apply("doc", 8, {"EVAL", "return redis.error_reply('MINE refused')", "0"});
  EXPECT_NE(mine.status().message().find("MINE refused"), std::string::npos);
}

TEST_F(RedisFenceTest, BadInputIsRefusedAndWritesNothing) {
  const std::string k = Key("bad", "k");
  for (auto [resource, token, write] :
       std::vector<std::tuple<std::string, FencingToken, std::vector<std::string>>>{
           {"bad", 0, {"SET", k, "x"}},
           {"", 1, {"SET", k, "x"}},
           {"bad\n", 1, {"SET", k, "x"}},
           {"bad", 1, {}},
           {"bad", 1, {"EVAL"}},
           {"bad", 1, {"EVAL", "return 1"}},
           {"bad", 1, {"EVAL", "return 1", "1"}},
           {"bad", 1, {"EVAL", "return 1", "-1"}},
           {"bad", 1, {"EVAL", "", "0"}},
           {"bad", 1, {"EVAL", "#!lua\nreturn 1", "0"}},
           {"bad", 1, {"EVALSHA", "0123", "0"}},
           {"bad", 1, {"fcall", "f", "0"}},
       }) {
    auto refused = guard_->Apply(resource, token, write);
    EXPECT_EQ(refused.status().code(), Code::kInvalidArgument)
        << "'" << resource << "' " << token << " " << write.size() << ": "
        << refused.status().ToString();
  }
  EXPECT_EQ(guard_->Highest("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Cli({"EXISTS", k}), "0");
  EXPECT_EQ(Highest("bad"), 0u);
}

TEST_F(RedisFenceTest, ARecordWrittenBySomethingElseIsReported) {
  Cli({"SET", prefix_ + "{odd}:fence", "not a token"});
  EXPECT_EQ(guard_->Highest("odd").status().code(), Code::kFailedPrecondition);
  auto write = guard_->Apply("odd", 1, {"SET", Key("odd", "k"), "x"});
  EXPECT_EQ(write.status().code(), Code::kFailedPrecondition) << write.status().ToString();
  EXPECT_NE(write.status().message().find("not a fence record"), std::string::npos)
      << write.status().ToString();
  EXPECT_EQ(Cli({"EXISTS", Key("odd", "k")}), "0");
}

// Writers with interleaved tokens from several threads: the write itself records the
// order in which the server applied them (RPUSH), and that order never goes down.
TEST_F(RedisFenceTest, ConcurrentWritersNeverApplyATokenBelowOneApplied) {
  const std::string list = Key("order", "applied");
  std::atomic<int> applied{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (FencingToken i = 1; i <= 50; ++i) {
        const FencingToken token = i * 4 - static_cast<FencingToken>((t * 3) % 4);
        auto r = guard_->Apply("order", token, {"RPUSH", list, std::to_string(token)});
        ASSERT_TRUE(r.ok() || r.status().code() == Code::kStale) << r.status().ToString();
        if (r.ok()) ++applied;
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<FencingToken> order;
  for (const std::string& line : Lines(Cli({"LRANGE", list, "0", "-1"}))) {
    order.push_back(std::stoull(line));
  }
  ASSERT_EQ(order.size(), static_cast<std::size_t>(applied.load()));
  ASSERT_FALSE(order.empty());
  for (std::size_t i = 1; i < order.size(); ++i) EXPECT_GE(order[i], order[i - 1]) << i;
  EXPECT_EQ(Highest("order"), order.back());
  EXPECT_EQ(order.back(), 200u);  // the highest token, written last by its thread
}

TEST(RedisFenceConnectTest, AWrongPasswordIsAFailedPreconditionThatDoesNotShowIt) {
  auto server = RedisServer::Start({"--requirepass", "s3cret"});
  ASSERT_NE(server, nullptr);
  RedisOptions o = OptionsFor(*server);
  o.password = "wrong-pw";
  auto refused = fence::MakeRedisGuard(o);
  ASSERT_EQ(refused.status().code(), Code::kFailedPrecondition) << refused.status().ToString();
  EXPECT_EQ(refused.status().message().find("wrong-pw"), std::string::npos);
  EXPECT_EQ(refused.status().message().find('\n'), std::string::npos);
  o.password = "s3cret";
  auto guard = fence::MakeRedisGuard(o);
  ASSERT_TRUE(guard.ok()) << guard.status().ToString();
  EXPECT_TRUE((*guard)->Apply("auth", 1, {"SET", "{auth}:k", "v"}).ok());
}

TEST(RedisFenceConnectTest, AClosedPortIsUnavailable) {
  RedisOptions o;
  o.port = ClosedPort();
  auto refused = fence::MakeRedisGuard(o);
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
  EXPECT_EQ(refused.status().message().find('\n'), std::string::npos);
}

// The pattern the guard exists for: the lock on one Redis, the resource on another; a
// holder paused past its TTL writes after the next holder did, and the resource refuses
// it.
TEST(RedisFencePausedHolderTest, ALateWriteAfterTheNextHolderIsRefused) {
  ASSERT_NE(Shared::get(), nullptr);
  auto store = RedisServer::Start();
  ASSERT_NE(store, nullptr);
  auto guard = fence::MakeRedisGuard(OptionsFor(*store));
  ASSERT_TRUE(guard.ok()) << guard.status().ToString();
  auto backend = MakeRedisBackend(OptionsFor(*Shared::get(), "paused-" + NewOwnerId() + ":"));
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();

  Locker first_locker(*backend);
  auto first = first_locker.Acquire("stock", {.ttl = milliseconds(200), .auto_renew = false});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const FencingToken late = first->token();
  ASSERT_TRUE((*guard)->Apply("stock", late, {"SET", "{stock}:count", "20"}).ok());

  // The first holder stalls; the second waits until its TTL has run out on the server.
  Locker second_locker(*backend);
  auto second = second_locker.Acquire("stock", {.wait = seconds(10)});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_GT(second->token(), late);
  ASSERT_TRUE((*guard)->Apply("stock", second->token(), {"SET", "{stock}:count", "19"}).ok());

  // The first holder resumes, and writes what it computed before it stalled.
  auto resumed = (*guard)->Apply("stock", late, {"SET", "{stock}:count", "20"});
  EXPECT_EQ(resumed.status().code(), Code::kStale) << resumed.status().ToString();
  EXPECT_EQ(store->Cli({"GET", "{stock}:count"}), "19\n");
  EXPECT_EQ(*(*guard)->Highest("stock"), second->token());
}

}  // namespace
}  // namespace dlock::test
