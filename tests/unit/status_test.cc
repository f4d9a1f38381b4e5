#include "dlock/status.h"

#include <gtest/gtest.h>

namespace dlock {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = ContendedError("held by someone");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kContended);
  EXPECT_EQ(s.ToString(), "contended: held by someone");
}

TEST(StatusTest, OnlyContendedAndUnavailableAreRetryable) {
  EXPECT_TRUE(IsRetryable(Code::kContended));
  EXPECT_TRUE(IsRetryable(Code::kUnavailable));
  for (Code c : {Code::kOk, Code::kNotHeld, Code::kDeadlineExceeded, Code::kCancelled,
                 Code::kInvalidArgument, Code::kFailedPrecondition, Code::kUnimplemented,
                 Code::kInternal, Code::kStale}) {
    EXPECT_FALSE(IsRetryable(c)) << CodeName(c);
  }
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = NotHeldError("gone");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kNotHeld);
}

Status ReturnsEarly(bool fail, int& reached) {
  DLOCK_RETURN_IF_ERROR(fail ? UnavailableError("down") : OkStatus());
  reached = 1;
  return OkStatus();
}

TEST(StatusTest, ReturnIfErrorMacro) {
  int reached = 0;
  EXPECT_EQ(ReturnsEarly(true, reached).code(), Code::kUnavailable);
  EXPECT_EQ(reached, 0);
  EXPECT_TRUE(ReturnsEarly(false, reached).ok());
  EXPECT_EQ(reached, 1);
}

TEST(StatusTest, MessagesStayOnOneLine) {
  Status s = InvalidArgumentError("invalid duration '1\n2': not a number");
  EXPECT_EQ(s.message(), "invalid duration '1\\x0a2': not a number");
  EXPECT_EQ(UnavailableError("a\r\tb\x7f").message(), "a\\x0d\\x09b\\x7f");
  EXPECT_EQ(NotHeldError("plain").message(), "plain");
}

}  // namespace
}  // namespace dlock
