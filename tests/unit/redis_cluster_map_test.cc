// redis+cluster:// without servers: the hash slot of a key (checked against CLUSTER KEYSLOT
// of Redis 7.0), the slot map read from CLUSTER NODES text, and the URI.
#include <gtest/gtest.h>

#include "dlock/backends/redis_cluster.h"
#include "redis/cluster/slot_map.h"

namespace dlock {
namespace {

TEST(RedisClusterKeySlotTest, MatchesRedisForTagsAndWholeKeys) {
  EXPECT_EQ(RedisClusterKeySlot("123456789"), 12739);  // CRC16/XMODEM's check value 0x31C3
  // What `redis-cli cluster keyslot KEY` answers.
  EXPECT_EQ(RedisClusterKeySlot("dlock:{a}"), 15495);
  EXPECT_EQ(RedisClusterKeySlot("dlock:{orders/42}:fence"), 1029);
  EXPECT_EQ(RedisClusterKeySlot("foo"), 12182);
  EXPECT_EQ(RedisClusterKeySlot("{}x"), 10595);     // an empty tag: the whole key
  EXPECT_EQ(RedisClusterKeySlot("a{}b{c}"), 7353);  // only the first '{' counts
  EXPECT_EQ(RedisClusterKeySlot("x{y"), 2740);      // no '}': the whole key
  EXPECT_EQ(RedisClusterKeySlot("{user1000}.following"), 3443);
  EXPECT_EQ(RedisClusterKeySlot("dlock:{}{a}"), 4820);
  // Every key of one lock shares the slot.
  for (const char* suffix : {"", ":fence", ":line", ":places", ":wants", ":epoch"}) {
    EXPECT_EQ(RedisClusterKeySlot(std::string("dlock:{orders/42}") + suffix), 1029) << suffix;
  }
}

constexpr const char* kNodes =
    "8a65 127.0.0.1:31006@32006 slave cf66 0 1796656127161 7 connected\n"
    "0f8f 127.0.0.1:31001@32001 myself,master - 0 1796656127000 1 connected 0-5460\n"
    "a7af 127.0.0.1:31002@32002,node2 master - 0 1796656127161 2 connected 5461-10922 "
    "[5462->-cf66]\n"
    "cf66 127.0.0.1:31003@32003 master - 0 1796656127362 7 connected 10923-16382 16383\n";

TEST(RedisClusterSlotMapTest, OwnersAndEpochsComeFromOneAnswer) {
  auto map = redis::ParseClusterNodes(kNodes, "127.0.0.1");
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  ASSERT_EQ(map->masters.size(), 3U);
  EXPECT_EQ(map->unserved, 0U);
  auto owner = [&](int slot) { return map->masters[map->owner[slot]]; };
  EXPECT_EQ(owner(0).port, 31001);
  EXPECT_EQ(owner(0).epoch, 1U);
  EXPECT_EQ(owner(5462).port, 31002);  // migrating: still served by its owner
  EXPECT_EQ(owner(16383).port, 31003);
  EXPECT_EQ(owner(16383).epoch, 7U);
  EXPECT_EQ(owner(16383).id, "cf66");
}

TEST(RedisClusterSlotMapTest, TheHigherEpochOwnsADisputedSlotAndFailedMastersServeNothing) {
  auto map = redis::ParseClusterNodes(
      "a 10.0.0.1:7000@17000 master,fail - 0 0 9 connected 0-99\n"
      "b 10.0.0.2:7000@17000 master - 0 0 3 connected 0-199\n"
      "c 10.0.0.3:7000@17000 master - 0 0 5 connected 150-160\n"
      "d :0@0 myself,master - 0 0 0 connected\n",
      "10.0.0.4");
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->masters.size(), 2U);  // a failed, d has no address
  EXPECT_EQ(map->masters[map->owner[0]].id, "b");
  EXPECT_EQ(map->masters[map->owner[155]].id, "c");
  EXPECT_EQ(map->masters[map->owner[199]].id, "b");
  EXPECT_EQ(map->owner[200], -1);
  EXPECT_EQ(map->unserved, redis::kClusterSlots - 200U);
}

TEST(RedisClusterSlotMapTest, TextThatIsNotClusterNodesIsRefusedNamingTheLine) {
  for (const char* text : {"+OK", "a b c", "a 1.2.3.4:x@1 master - 0 0 1 connected 0-1",
                           "a 1.2.3.4:7000@1 master - 0 0 1 connected 9-3",
                           "a 1.2.3.4:7000@1 master - 0 0 1 connected 0-16384"}) {
    auto map = redis::ParseClusterNodes(text, "h");
    ASSERT_FALSE(map.ok()) << text;
    EXPECT_EQ(map.status().message().find('\n'), std::string::npos);
  }
}

TEST(RedisClusterUriTest, SeedsOptionsAndRefusals) {
  auto uri = ParseBackendUri("rediss+cluster://u:p@h1:7000,h2?insecure=true&prefix=x:");
  ASSERT_TRUE(uri.ok());
  auto o = RedisClusterOptionsFromUri(*uri);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_EQ(o->seeds.size(), 2U);
  EXPECT_EQ(o->seeds[0].port, 7000);
  EXPECT_EQ(o->seeds[1].port, 6379);
  EXPECT_TRUE(o->node.tls);
  EXPECT_EQ(o->node.user, "u");
  EXPECT_EQ(o->node.prefix, "x:");
  for (const char* bad :
       {"redis+cluster://h1/1", "redis+cluster://h1?color=red", "redis+cluster://h1?cacert=/x"}) {
    auto u = ParseBackendUri(bad);
    if (!u.ok()) continue;  // refused by the URI parser already
    auto r = RedisClusterOptionsFromUri(*u);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace dlock
