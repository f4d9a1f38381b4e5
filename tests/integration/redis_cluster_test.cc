// redis+cluster:// against a real Redis Cluster on loopback: six nodes, three masters with
// one replica each (RedisClusterSet). First the harness itself: the cluster it builds, and
// the failovers and slot migrations it drives, as the nodes report them.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "integration/backend_util.h"
#include "integration/redis_cluster_set.h"

namespace dlock::test {
namespace {

using Shared = SharedServer<RedisClusterSet>;
const auto* const env = ::testing::AddGlobalTestEnvironment(new Shared);

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
  EXPECT_EQ(*epochs.begin(), 1);
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
  ASSERT_TRUE(set->BeginMigration(slot, to));
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
  set->Pause(old);
  EXPECT_EQ(set->AwaitPromotion(old, 16383), replica);
  set->Resume(old);
  ASSERT_TRUE(set->AwaitHealthy());
  EXPECT_EQ(set->ReplicaOf(replica), old);
  EXPECT_EQ(set->Role(old), "slave");
}

}  // namespace
}  // namespace dlock::test
