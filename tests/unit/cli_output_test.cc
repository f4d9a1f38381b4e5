#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"
#include "cli/output.h"

namespace dlock::cli {
namespace {

TEST(ExitCodeTest, TableFromDesign) {
  EXPECT_EQ(ExitCodeFor(Code::kOk), 0);
  EXPECT_EQ(ExitCodeFor(Code::kNotHeld), 1);
  EXPECT_EQ(ExitCodeFor(Code::kInvalidArgument), 64);
  EXPECT_EQ(ExitCodeFor(Code::kUnimplemented), 64);
  EXPECT_EQ(ExitCodeFor(Code::kUnavailable), 69);
  EXPECT_EQ(ExitCodeFor(Code::kFailedPrecondition), 69);
  EXPECT_EQ(ExitCodeFor(Code::kContended), 75);
  EXPECT_EQ(ExitCodeFor(Code::kDeadlineExceeded), 75);
  EXPECT_EQ(ExitCodeFor(Code::kInternal), 70);
  EXPECT_EQ(ExitCodeFor(Code::kStale), 77);
  EXPECT_EQ(kExitLost, 76);
}

TEST(OutputTest, InspectJsonHasTheDocumentedFields) {
  LockState s;
  s.name = "jobs/nightly";
  s.held = true;
  s.token = 7;
  s.remaining = std::chrono::milliseconds(1234);
  s.holder = {"h1", 99, std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
  auto j = nlohmann::json::parse(FormatState(s, "file:///x", true));
  EXPECT_EQ(j["name"], "jobs/nightly");
  EXPECT_EQ(j["held"], true);
  EXPECT_EQ(j["fencing_token"], 7);
  EXPECT_EQ(j["ttl_ms"], 1234);
  EXPECT_EQ(j["host"], "h1");
  EXPECT_EQ(j["pid"], 99);
  EXPECT_EQ(j["since"], "2023-11-14T22:13:20.000Z");
  EXPECT_FALSE(j.contains("owner"));
}

TEST(OutputTest, FreeLockJsonHasNoHolder) {
  LockState s;
  s.name = "x";
  s.token = 3;
  auto j = nlohmann::json::parse(FormatState(s, "file:///x", true));
  EXPECT_EQ(j["held"], false);
  EXPECT_EQ(j["fencing_token"], 3);
  EXPECT_FALSE(j.contains("ttl_ms"));
  EXPECT_FALSE(j.contains("pid"));
}

TEST(OutputTest, LeaseTextIsShellAssignments) {
  Lease l{"it's/mine", "abc123", 5, std::chrono::seconds(30), {}};
  EXPECT_EQ(FormatLease(l, "file:///x", false),
            "DLOCK_NAME='it'\\''s/mine'\nDLOCK_OWNER=abc123\nDLOCK_FENCING_TOKEN=5\n"
            "DLOCK_TTL_MS=30000\n");
}

TEST(OutputTest, TableAlignsItsValues) {
  EXPECT_EQ(FormatTable("dlock bench: seq", {{"throughput", "5,660 ops/s"}, {"p50", "171 us"}}),
            "dlock bench: seq\n"
            "  throughput  5,660 ops/s\n"
            "  p50         171 us\n");
  EXPECT_EQ(FormatTable("empty", {}), "empty\n");
}

TEST(OutputTest, GroupedCountsHaveThousandsSeparators) {
  EXPECT_EQ(Grouped(0), "0");
  EXPECT_EQ(Grouped(999.4), "999");
  EXPECT_EQ(Grouped(1000), "1,000");
  EXPECT_EQ(Grouped(1234567.6), "1,234,568");
  EXPECT_EQ(Grouped(-4321), "-4,321");
}

}  // namespace
}  // namespace dlock::cli
