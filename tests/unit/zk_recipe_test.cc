// The ZooKeeper recipe's names and order, without a server.
#include <gtest/gtest.h>

#include <regex>

#include "zookeeper/recipe.h"

namespace dlock::zk {
namespace {

TEST(ZkRecipeTest, LockPathsJoinTheRootAndTheName) {
  EXPECT_EQ(*LockPath("/", "jobs"), "/jobs");
  EXPECT_EQ(*LockPath("/locks", "jobs"), "/locks/jobs");
  EXPECT_EQ(*LockPath("/locks/", "a/b"), "/locks/a/b");
  EXPECT_EQ(*LockPath("", "jobs"), "/jobs");
  for (auto name : {"a//b", "/a", "a/", "..", "a/./b", "x/.."}) {
    EXPECT_EQ(LockPath("/locks", name).status().code(), Code::kInvalidArgument) << name;
  }
  EXPECT_EQ(LockPath("/", "zookeeper").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(LockPath("/zookeeper", "x").status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(LockPath("/", "zookeeperish").ok());
}

TEST(ZkRecipeTest, NodeNamesAreCuratorsAndHideTheOwnerId) {
  const std::string owner = "0123456789abcdef0123456789abcdef";
  std::string prefix = NodePrefix(owner);
  EXPECT_TRUE(std::regex_match(
      prefix, std::regex("_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-lock-")));
  EXPECT_EQ(prefix.find(owner), std::string::npos);
  EXPECT_EQ(NodePrefix(owner), prefix);  // found again after a lost reply
  EXPECT_NE(NodePrefix("another"), prefix);
  EXPECT_EQ(FindOwnNode({"x__lock__0000000001", prefix + "0000000002"}, owner),
            prefix + "0000000002");
  EXPECT_EQ(FindOwnNode({"x__lock__0000000001"}, owner), std::nullopt);
}

TEST(ZkRecipeTest, ContendersAreOrderedBySequenceWhoeverMadeThem) {
  auto sorted = SortContenders({"_c_aaaa-lock-0000000012", "f00d__lock__0000000003",
                                "beef__rlock__0000000010", "not-a-contender", "leader-0000000001",
                                "_c_bbbb-lock-0000000002"});
  std::vector<std::string> names;
  for (const auto& c : sorted) names.push_back(c.node);
  EXPECT_EQ(names,
            (std::vector<std::string>{"_c_bbbb-lock-0000000002", "f00d__lock__0000000003",
                                      "beef__rlock__0000000010", "_c_aaaa-lock-0000000012"}));
  EXPECT_EQ(sorted.front().sequence, "0000000002");
}

TEST(ZkRecipeTest, APastOverflowSequenceSortsAsCuratorAndKazooSortIt) {
  // Past 2^31 the server appends "-2147483648": as text it comes first, for them and us.
  auto sorted = SortContenders({"_c_a-lock-0000000005", "_c_b-lock--2147483648", "x-lock-12"});
  ASSERT_EQ(sorted.size(), 2u);
  EXPECT_EQ(sorted.front().node, "_c_b-lock--2147483648");
}

}  // namespace
}  // namespace dlock::zk
