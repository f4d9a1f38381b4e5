// The etcd guard (dlock/fence/etcd.h) against a real single-member etcd on loopback: the
// fencing rule on puts and deletes, concurrent writers checked against etcd's own
// revisions, bad input, an unreachable server, the fence record's format, and a lock
// holder paused past its lease's TTL.
#include <gtest/gtest.h>

#include <algorithm>

#include "dlock/backends/etcd.h"
#include "dlock/fence/etcd.h"
#include "dlock/locker.h"
#include "etcd/client.h"
#include "integration/backend_util.h"
#include "integration/etcd_server.h"
#include "integration/guard_checks.h"
#include "integration/server_process.h"
#include "test_util.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using Shared = SharedServer<EtcdServer>;
const auto* const env = ::testing::AddGlobalTestEnvironment(new Shared);

// Each test's keys under a prefix of their own.
class EtcdGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Shared::get(), nullptr);
    options_.endpoints = {Shared::get()->Endpoint()};
    options_.prefix = "guard-" + NewOwnerId().substr(0, 8) + "/";
    auto guard = fence::MakeEtcdGuard(options_);
    ASSERT_TRUE(guard.ok()) << guard.status().ToString();
    guard_ = std::move(*guard);
    auto client = etcd::Client::Connect(options_);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(*client);
    store_.set = [](const std::string& key, const std::string& value) {
      return std::vector<std::string>{"put", key, value};
    };
    store_.get = [this](const std::string& key) { return Get(key); };
    store_.history = [this](const std::string& parent) { return History(parent); };
  }

  // `key`'s value, read with a client of our own.
  std::optional<std::string> Get(const std::string& key) {
    etcd::pb::RangeRequest request;
    request.set_key(key);
    auto got = client_->Range(request);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || got->kvs().empty()) return std::nullopt;
    return got->kvs(0).value();
  }

  void Put(const std::string& key, const std::string& value) {
    etcd::pb::TxnRequest txn;
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(value);
    ASSERT_TRUE(client_->Txn(txn).ok());
  }

  // The keys under `parent/` in the order etcd applied their last writes.
  std::vector<std::pair<std::string, std::string>> History(const std::string& parent) {
    etcd::pb::RangeRequest request;
    request.set_key(parent + "/");
    request.set_range_end(parent + "0");  // '0' follows '/'
    auto got = client_->Range(request);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok()) return {};
    std::vector<mvccpb::KeyValue> kvs(got->kvs().begin(), got->kvs().end());
    std::sort(kvs.begin(), kvs.end(),
              [](const auto& a, const auto& b) { return a.mod_revision() < b.mod_revision(); });
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& kv : kvs) out.emplace_back(kv.key(), kv.value());
    return out;
  }

  std::string Key(const std::string& name) const { return options_.prefix + name; }

  EtcdOptions options_;
  std::unique_ptr<fence::Guard> guard_;
  std::unique_ptr<etcd::Client> client_;
  FencedStore store_;
};

TEST_F(EtcdGuardTest, ATokenAtLeastTheHighestIsAppliedALowerOneIsStale) {
  ExpectTheFencingRule(*guard_, "orders", Key("orders"), store_);
  // The record: PREFIX fence/R, the token in 20 digits, so that byte order is numeric.
  EXPECT_EQ(Get(Key("fence/orders")), "00000000000000000007");
  EXPECT_EQ(guard_->kind(), "etcd");
}

TEST_F(EtcdGuardTest, ADeleteIsFencedAsAPutIs) {
  const std::string key = Key("doomed");
  ASSERT_TRUE(guard_->Apply("doomed", 3, {"put", key, "v"}).ok());
  auto stale = guard_->Apply("doomed", 2, {"delete", key});
  EXPECT_EQ(stale.status().code(), Code::kStale) << stale.status().ToString();
  EXPECT_EQ(Get(key), "v");
  auto deleted = guard_->Apply("doomed", 3, {"delete", key});
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_EQ(*deleted, "deleted 1");
  EXPECT_EQ(Get(key), std::nullopt);
  auto again = guard_->Apply("doomed", 4, {"delete", key});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, "deleted 0");
  EXPECT_EQ(guard_->Highest("doomed").value(), 4u);
}

TEST_F(EtcdGuardTest, ConcurrentWritersNeverApplyAnOlderToken) {
  ExpectConcurrentWritersKeepTheTokenOrder(*guard_, "contended", Key("contended"), store_);
}

TEST_F(EtcdGuardTest, BadInputIsInvalidAndWritesNothing) {
  const std::string key = Key("bad");
  ExpectBadInputWritesNothing(*guard_, "bad", key, store_,
                              {{"frob", key, "x"},
                               {"put", key},
                               {"put", key, "x", "y"},
                               {"delete"},
                               {"delete", key, "x"},
                               {"put", "", "x"},
                               {"PUT", key, "x"},
                               // The guard's own records are not writable through it.
                               {"put", Key("fence/other"), "99999999999999999999"},
                               {"delete", Key("fence/bad")}});
  EXPECT_EQ(Get(Key("fence/other")), std::nullopt);
}

TEST_F(EtcdGuardTest, ARecordWrittenBySomethingElseIsAFailedPrecondition) {
  Put(Key("fence/foreign"), "not a token");
  EXPECT_EQ(guard_->Highest("foreign").status().code(), Code::kFailedPrecondition);
  auto refused = guard_->Apply("foreign", 9, {"put", Key("foreign"), "x"});
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition) << refused.status().ToString();
  EXPECT_EQ(Get(Key("foreign")), std::nullopt);
}

TEST_F(EtcdGuardTest, AnUnreachableServerIsUnavailable) {
  EtcdOptions options;
  options.endpoints = {"127.0.0.1:" + std::to_string(ClosedPort())};
  options.connect_timeout = milliseconds(500);
  auto start = std::chrono::steady_clock::now();
  auto guard = fence::MakeEtcdGuard(options);
  EXPECT_EQ(guard.status().code(), Code::kUnavailable) << guard.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
}

// The lock on the same etcd, with a lease of 2 s (etcd's minimum here) never renewed.
TEST_F(EtcdGuardTest, AHolderPausedPastItsTtlIsRefused) {
  const std::string uri = Shared::get()->Uri("", "?prefix=" + options_.prefix + "locks/");
  Locker first(Open(uri));
  Locker second(Open(uri));
  ExpectAHolderPausedPastItsTtlIsRefused(
      *guard_, first, second, "job", seconds(2), [] {}, "job-output", Key("job-output"), store_);
}

}  // namespace
}  // namespace dlock::test
