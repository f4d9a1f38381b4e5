// RESP replies parsed without a server: pieces, nesting, and headers that would make
// the parser allocate without bound.
#include <gtest/gtest.h>

#include <string>

#include "redis/client/protocol.h"

namespace dlock::redis {
namespace {

TEST(ReplyParserTest, RepliesArriveWhateverThePieces) {
  ReplyParser parser;
  const std::string wire = "*2\r\n$5\r\nhello\r\n:42\r\n+OK\r\n";
  for (char c : wire) {
    parser.Feed(&c, 1);
  }
  auto first = parser.Next();
  ASSERT_TRUE(first.ok() && *first);
  ASSERT_EQ((*first)->elements.size(), 2u);
  EXPECT_EQ((*first)->elements[0].str, "hello");
  EXPECT_EQ((*first)->elements[1].integer, 42);
  auto second = parser.Next();
  ASSERT_TRUE(second.ok() && *second);
  EXPECT_EQ((*second)->type, Reply::Type::kStatus);
  auto none = parser.Next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
}

TEST(ReplyParserTest, AHugeArrayHeaderIsAProtocolErrorNotAnAllocation) {
  ReplyParser parser;
  const std::string wire = "*444444441\r\n";  // 3.5 GB of element pointers in hiredis 0.14
  parser.Feed(wire.data(), wire.size());
  auto reply = parser.Next();
  EXPECT_FALSE(reply.ok());
  ReplyParser fine;
  const std::string big = "*65536\r\n";  // the largest accepted, then its elements
  fine.Feed(big.data(), big.size());
  auto more = fine.Next();
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  EXPECT_FALSE(*more);  // needs its elements
}

}  // namespace
}  // namespace dlock::redis
