// The ZooKeeper guard (dlock/fence/zookeeper.h) against a real standalone ZooKeeper on
// loopback: the fencing rule, set and create, concurrent writers checked against the
// server's zxids, bad input, digest auth, an unreachable server, and a lock holder
// paused past its TTL.
#include <gtest/gtest.h>

#include <algorithm>

#include "dlock/backends/memory.h"
#include "dlock/backends/zookeeper.h"
#include "dlock/fence/zookeeper.h"
#include "dlock/locker.h"
#include "dlock/testing/manual_clock.h"
#include "integration/backend_util.h"
#include "integration/guard_checks.h"
#include "integration/server_process.h"
#include "integration/zk_server.h"
#include "test_util.h"
#include "zookeeper/nodes.h"
#include "zookeeper/session.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using Shared = SharedServer<ZkServer>;
const auto* const env = ::testing::AddGlobalTestEnvironment(new Shared);

// Each test under a znode of its own: BASE, the guard's root (its records in
// BASE/fence/...), and BASE/data, where the tests write.
class ZkGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Shared::get(), nullptr);
    base_ = "/guard-" + NewOwnerId().substr(0, 8);
    data_ = base_ + "/data";
    options_.hosts = Shared::get()->HostPort();
    options_.root = base_;
    auto guard = fence::MakeZooKeeperGuard(options_);
    ASSERT_TRUE(guard.ok()) << guard.status().ToString();
    guard_ = std::move(*guard);
    auto session = zk::Session::Open({options_.hosts, seconds(30), "", seconds(5)});
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    session_ = std::move(*session);
    Create(base_);
    Create(data_);
    store_.set = [](const std::string& path, const std::string& data) {
      return std::vector<std::string>{"create", path, data};
    };
    store_.get = [this](const std::string& path) { return Get(path); };
    store_.history = [this](const std::string& parent) { return History(parent); };
  }

  void Create(const std::string& path) {
    int rc = zoo_create(session_->handle(), path.c_str(), nullptr, -1, &ZOO_OPEN_ACL_UNSAFE,
                        ZOO_PERSISTENT, nullptr, 0);
    ASSERT_TRUE(rc == ZOK || rc == ZNODEEXISTS) << path << ": " << zerror(rc);
  }

  std::optional<std::string> Get(const std::string& path) {
    auto node = zk::GetNode(*session_, path);
    EXPECT_TRUE(node.ok()) << node.status().ToString();
    if (!node.ok() || !*node) return std::nullopt;
    return (*node)->data;
  }

  // The children of `parent`, in the order they were created (each is written once).
  std::vector<std::pair<std::string, std::string>> History(const std::string& parent) {
    auto children = zk::GetChildren(*session_, parent);
    EXPECT_TRUE(children.ok()) << children.status().ToString();
    if (!children.ok()) return {};
    std::vector<std::pair<std::int64_t, std::pair<std::string, std::string>>> nodes;
    for (const auto& child : *children) {
      auto node = zk::GetNode(*session_, parent + "/" + child);
      EXPECT_TRUE(node.ok() && *node) << child;
      if (!node.ok() || !*node) continue;
      nodes.push_back({(*node)->stat.czxid, {parent + "/" + child, (*node)->data}});
    }
    std::sort(nodes.begin(), nodes.end());
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& [zxid, node] : nodes) out.push_back(std::move(node));
    return out;
  }

  std::string base_;
  std::string data_;
  ZooKeeperOptions options_;
  std::unique_ptr<fence::Guard> guard_;
  std::shared_ptr<zk::Session> session_;
  FencedStore store_;
};

TEST_F(ZkGuardTest, ATokenAtLeastTheHighestIsAppliedALowerOneIsStale) {
  ExpectTheFencingRule(*guard_, "orders", data_ + "/orders", store_);
  // The record: ROOT/fence/R, the token in decimal.
  EXPECT_EQ(Get(base_ + "/fence/orders"), "7");
  EXPECT_EQ(guard_->kind(), "zk");
}

TEST_F(ZkGuardTest, SetNeedsTheNodeCreateMakesOrSetsIt) {
  const std::string path = data_ + "/config";
  auto missing = guard_->Apply("config", 2, {"set", path, "x"});
  EXPECT_EQ(missing.status().code(), Code::kFailedPrecondition) << missing.status().ToString();
  EXPECT_EQ(Get(path), std::nullopt);
  EXPECT_EQ(guard_->Highest("config").value(), 0u);  // the multi failed as a whole

  auto created = guard_->Apply("config", 2, {"create", path, "one"});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, "created");
  auto recreated = guard_->Apply("config", 2, {"create", path, "two"});
  ASSERT_TRUE(recreated.ok()) << recreated.status().ToString();
  EXPECT_EQ(*recreated, "");
  EXPECT_EQ(Get(path), "two");
  auto set = guard_->Apply("config", 3, {"set", path, "three"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(Get(path), "three");
  EXPECT_EQ(guard_->Apply("config", 1, {"set", path, "one"}).status().code(), Code::kStale);
  EXPECT_EQ(Get(path), "three");

  auto orphan = guard_->Apply("config", 3, {"create", data_ + "/no/parent", "x"});
  EXPECT_EQ(orphan.status().code(), Code::kFailedPrecondition) << orphan.status().ToString();
  EXPECT_EQ(guard_->Highest("config").value(), 3u);
}

TEST_F(ZkGuardTest, AResourceWithASlashIsANestedRecord) {
  ASSERT_TRUE(guard_->Apply("jobs/nightly", 4, {"create", data_ + "/nightly", "x"}).ok());
  EXPECT_EQ(Get(base_ + "/fence/jobs/nightly"), "4");
  // The parent made for it is a resource too, which has seen nothing.
  EXPECT_EQ(guard_->Highest("jobs").value(), 0u);
  ASSERT_TRUE(guard_->Apply("jobs", 1, {"create", data_ + "/jobs", "y"}).ok());
  EXPECT_EQ(guard_->Highest("jobs/nightly").value(), 4u);
}

TEST_F(ZkGuardTest, ConcurrentWritersNeverApplyAnOlderToken) {
  Create(data_ + "/contended");
  ExpectConcurrentWritersKeepTheTokenOrder(*guard_, "contended", data_ + "/contended", store_);
}

TEST_F(ZkGuardTest, BadInputIsInvalidAndWritesNothing) {
  const std::string path = data_ + "/bad";
  ExpectBadInputWritesNothing(*guard_, "bad", path, store_,
                              {{"frob", path, "x"},
                               {"set", path},
                               {"create", path},
                               {"create", path, "x", "y"},
                               {"delete", path},
                               {"create", "relative", "x"},
                               {"create", path + "/", "x"},
                               {"create", data_ + "//bad", "x"},
                               {"create", data_ + "/../bad", "x"},
                               {"create", "/", "x"},
                               // The guard's own records are not writable through it.
                               {"create", base_ + "/fence/other", "99"},
                               {"set", base_ + "/fence", "x"}});
  EXPECT_EQ(Get(base_ + "/fence/other"), std::nullopt);
  for (std::string resource : {"a//b", "..", "a/"}) {
    EXPECT_EQ(guard_->Apply(resource, 3, {"create", path, "x"}).status().code(),
              Code::kInvalidArgument)
        << resource;
  }
  EXPECT_EQ(Get(path), std::nullopt);
}

TEST_F(ZkGuardTest, DigestAuthProtectsTheRecords) {
  ZooKeeperOptions alice = options_;
  alice.user = "alice";
  alice.password = "pw";
  auto guard = fence::MakeZooKeeperGuard(alice);
  ASSERT_TRUE(guard.ok()) << guard.status().ToString();
  ASSERT_TRUE((*guard)->Apply("private", 5, {"create", data_ + "/private", "a"}).ok());
  ZooKeeperOptions bob = alice;
  bob.user = "bob";
  auto other = fence::MakeZooKeeperGuard(bob);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto denied = (*other)->Apply("private", 6, {"create", data_ + "/private", "b"});
  EXPECT_EQ(denied.status().code(), Code::kFailedPrecondition) << denied.status().ToString();
  EXPECT_EQ(Get(data_ + "/private"), "a");
  // Reading is open to anyone.
  EXPECT_EQ((*other)->Highest("private").value(), 5u);
}

TEST_F(ZkGuardTest, AnUnreachableServerIsUnavailable) {
  ZooKeeperOptions options;
  options.hosts = "127.0.0.1:" + std::to_string(ClosedPort());
  options.connect_timeout = milliseconds(500);
  auto start = std::chrono::steady_clock::now();
  auto guard = fence::MakeZooKeeperGuard(options);
  EXPECT_EQ(guard.status().code(), Code::kUnavailable) << guard.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  options.root = "/a/../b";
  EXPECT_EQ(fence::MakeZooKeeperGuard(options).status().code(), Code::kInvalidArgument);
}

// The lock is in memory, on a manual clock (what is tested is the guard): a ZooKeeper
// session stays alive while its process runs, however long the holder's thread sleeps.
TEST_F(ZkGuardTest, AHolderPausedPastItsTtlIsRefused) {
  auto clock = std::make_shared<testing::ManualClock>();
  auto backend = MakeMemoryBackend({.clock = clock});
  Locker first(backend, {.clock = clock});
  Locker second(backend, {.clock = clock});
  ExpectAHolderPausedPastItsTtlIsRefused(
      *guard_, first, second, "job", seconds(1), [&] { clock->Advance(seconds(2)); }, "job-output",
      data_ + "/job-output", store_);
}

}  // namespace
}  // namespace dlock::test
