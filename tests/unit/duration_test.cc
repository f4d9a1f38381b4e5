#include "dlock/duration.h"

#include <gtest/gtest.h>

namespace dlock {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, ParsesUnits) {
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("10s"), milliseconds(10'000));
  EXPECT_EQ(*ParseDuration("2m"), milliseconds(120'000));
  EXPECT_EQ(*ParseDuration("1h"), milliseconds(3'600'000));
  EXPECT_EQ(*ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*ParseDuration("0"), milliseconds(0));
}

TEST(DurationTest, BareNumberIsSeconds) { EXPECT_EQ(*ParseDuration("3"), milliseconds(3000)); }

TEST(DurationTest, RejectsMalformed) {
  for (const char* bad : {"", "s", "-1s", "10y", "1.s", "1e3", "1 s", " 1s", "1ss", "0x10",
                          "99999999999999999999999h", "1001h", "abc"}) {
    auto d = ParseDuration(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
      EXPECT_NE(d.status().message().find("e.g."), std::string::npos) << d.status().message();
    }
  }
}

TEST(DurationTest, ErrorNamesTheUnit) {
  auto d = ParseDuration("10y");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("unknown unit 'y'"), std::string::npos);
}

TEST(DurationTest, FormatsShortestExactForm) {
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(milliseconds(2000)), "2s");
  EXPECT_EQ(FormatDuration(milliseconds(120'000)), "2m");
  EXPECT_EQ(FormatDuration(milliseconds(3'600'000)), "1h");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0ms");
}

}  // namespace
}  // namespace dlock
