#include "dlock/lease.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

namespace dlock {
namespace {

using std::chrono::milliseconds;

TEST(LeaseTest, OwnerIdsAre128BitHexAndUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewOwnerId();
    ASSERT_EQ(id.size(), 32u);
    EXPECT_TRUE(ValidateOwnerId(id).ok());
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(LeaseTest, NameRules) {
  EXPECT_TRUE(ValidateName("jobs/nightly").ok());
  EXPECT_TRUE(ValidateName("../../etc/passwd").ok());  // allowed: backends encode it
  EXPECT_TRUE(ValidateName("ünïcode name").ok());
  EXPECT_TRUE(ValidateName(std::string(kMaxNameLength, 'a')).ok());
  EXPECT_EQ(ValidateName("").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateName(std::string(10'000, 'a')).code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateName("a\nb").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateName(std::string("a\0b", 3)).code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateName("a\x7f").code(), Code::kInvalidArgument);
}

TEST(LeaseTest, TtlRules) {
  EXPECT_TRUE(ValidateTtl(milliseconds(10)).ok());
  EXPECT_TRUE(ValidateTtl(std::chrono::hours(24)).ok());
  EXPECT_EQ(ValidateTtl(milliseconds(0)).code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateTtl(milliseconds(-5)).code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateTtl(std::chrono::hours(25)).code(), Code::kInvalidArgument);
}

TEST(LeaseTest, OwnerIdRules) {
  EXPECT_EQ(ValidateOwnerId("").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateOwnerId("abc def").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateOwnerId(std::string(129, 'a')).code(), Code::kInvalidArgument);
}

TEST(LeaseTest, ValidityIsConservative) {
  EXPECT_EQ(ClockDrift(milliseconds(10'000)), milliseconds(102));
  auto start = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  EXPECT_EQ(ValidUntil(start, milliseconds(10'000)), start + milliseconds(9898));
}

TEST(LeaseTest, TheDefaultDriftIsOnePercentPlusTwoMilliseconds) {
  // floor(TTL / 100) + 2 ms at every TTL, whatever binary rounding does to 0.01 x TTL.
  for (std::int64_t ms = kMinTtl.count(); ms <= 200'000; ms += 7) {
    ASSERT_EQ(ClockDrift(milliseconds(ms)), milliseconds(ms / 100 + 2)) << ms;
  }
}

TEST(LeaseTest, ADriftMarginOfYourOwn) {
  const DriftMargin margin{.factor = 0.1, .fixed = milliseconds(50)};
  EXPECT_TRUE(ValidateDriftMargin(margin).ok());
  EXPECT_EQ(ClockDrift(milliseconds(1000), margin), milliseconds(150));
  auto start = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  EXPECT_EQ(ValidUntil(start, milliseconds(1000), margin), start + milliseconds(850));
  EXPECT_EQ(ClockDrift(milliseconds(1000), {.factor = 0, .fixed = milliseconds(0)}),
            milliseconds(0));
}

TEST(LeaseTest, DriftMarginRules) {
  EXPECT_TRUE(ValidateDriftMargin({}).ok());
  EXPECT_TRUE(ValidateDriftMargin({.factor = kMaxDriftFactor, .fixed = kMaxDriftFixed}).ok());
  for (double factor : {-0.01, kMaxDriftFactor + 0.01, std::nan(""), HUGE_VAL}) {
    Status s = ValidateDriftMargin({.factor = factor});
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << factor;
    EXPECT_NE(s.message().find("drift factor"), std::string::npos) << s.message();
  }
  for (milliseconds fixed : {milliseconds(-1), kMaxDriftFixed + milliseconds(1)}) {
    Status s = ValidateDriftMargin({.fixed = fixed});
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << fixed.count();
    EXPECT_NE(s.message().find("ms is not from 0"), std::string::npos) << s.message();
  }
}

}  // namespace
}  // namespace dlock
