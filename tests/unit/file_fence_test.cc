// The file guard (dlock/fence/file.h): a stale token's write is refused and changes
// nothing; the record beside the file keeps the highest token.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "dlock/backends/memory.h"
#include "dlock/fence/file.h"
#include "dlock/locker.h"
#include "dlock/testing/manual_clock.h"
#include "test_util.h"

namespace dlock::fence {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class FileFenceTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  std::string path_ = (dir_.path() / "stock").string();
  std::unique_ptr<Guard> guard_ = MakeFileGuard({.fsync = false});
};

TEST_F(FileFenceTest, ATokenAtLeastTheHighestIsAppliedAndRecorded) {
  EXPECT_EQ(*guard_->Highest(path_), 0u);
  ASSERT_TRUE(guard_->Apply(path_, 5, {"20"}).ok());
  EXPECT_EQ(Read(path_), "20");
  EXPECT_EQ(*guard_->Highest(path_), 5u);
  ASSERT_TRUE(guard_->Apply(path_, 5, {"19"}).ok());  // >=: one holder writes again
  EXPECT_EQ(Read(path_), "19");
  ASSERT_TRUE(guard_->Apply(path_, 9, {"18"}).ok());
  EXPECT_EQ(*guard_->Highest(path_), 9u);
  EXPECT_EQ(Read(FenceRecordPath(path_)), "9\n");
}

TEST_F(FileFenceTest, AStaleTokenIsRefusedAndChangesNothing) {
  ASSERT_TRUE(guard_->Apply(path_, 7, {"new"}).ok());
  auto stale = guard_->Apply(path_, 6, {"old"});
  EXPECT_EQ(stale.status().code(), Code::kStale) << stale.status().ToString();
  EXPECT_NE(stale.status().message().find("token 6"), std::string::npos);
  EXPECT_NE(stale.status().message().find("token 7"), std::string::npos);
  EXPECT_EQ(Read(path_), "new");
  EXPECT_EQ(*guard_->Highest(path_), 7u);
  // Nothing left behind beside it: the file and its record.
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"stock", "stock.fence"}));
}

TEST_F(FileFenceTest, AFailedProducerLeavesTheFileAndTheTokenAsTheyWere) {
  ASSERT_TRUE(guard_->Apply(path_, 3, {"kept"}).ok());
  Status failed = ReplaceFile(path_, 4, [](int fd) {
    [[maybe_unused]] auto n = ::write(fd, "partial", 7);
    return FailedPreconditionError("the producer failed");
  });
  EXPECT_EQ(failed.code(), Code::kFailedPrecondition);
  EXPECT_EQ(Read(path_), "kept");
  EXPECT_EQ(*guard_->Highest(path_), 3u);
}

TEST_F(FileFenceTest, BadInputIsRefusedAndWritesNothing) {
  EXPECT_EQ(guard_->Apply(path_, 0, {"x"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(guard_->Apply("", 1, {"x"}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(guard_->Apply(path_, 1, {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(guard_->Apply(path_, 1, {"a", "b"}).status().code(), Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(path_));
  auto missing_dir = guard_->Apply((dir_.path() / "no" / "such").string(), 1, {"x"});
  EXPECT_EQ(missing_dir.status().code(), Code::kFailedPrecondition);
}

TEST_F(FileFenceTest, ACorruptRecordIsReportedNotOverwritten) {
  std::ofstream(FenceRecordPath(path_)) << "not a token";
  EXPECT_EQ(guard_->Apply(path_, 1, {"x"}).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(Read(FenceRecordPath(path_)), "not a token");
  EXPECT_FALSE(std::filesystem::exists(path_));
}

// Writers with interleaved tokens from several threads: every applied token is at least
// every token applied before it, and the record ends at the highest applied.
TEST_F(FileFenceTest, ConcurrentWritersNeverApplyATokenBelowOneApplied) {
  std::mutex mu;
  std::vector<FencingToken> applied;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (FencingToken i = 1; i <= 50; ++i) {
        const FencingToken token = i * 4 - static_cast<FencingToken>((t * 3) % 4);
        Status s = ReplaceFile(
            path_, token,
            [&](int fd) {
              std::lock_guard lock(mu);  // under the file's flock: the order of application
              applied.push_back(token);
              const std::string text = std::to_string(token);
              return ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size())
                         ? OkStatus()
                         : InternalError("write");
            },
            {.fsync = false});
        ASSERT_TRUE(s.ok() || s.code() == Code::kStale) << s.ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_FALSE(applied.empty());
  for (std::size_t i = 1; i < applied.size(); ++i) EXPECT_GE(applied[i], applied[i - 1]);
  EXPECT_EQ(*guard_->Highest(path_), applied.back());
  EXPECT_EQ(Read(path_), std::to_string(applied.back()));
}

// The pattern the guard exists for: a holder paused past its TTL writes after the next
// holder did, and the resource refuses it.
TEST_F(FileFenceTest, AHolderPausedPastItsTtlHasItsLateWriteRefused) {
  auto clock = std::make_shared<testing::ManualClock>();
  auto backend = MakeMemoryBackend({.clock = clock});
  Locker locker(backend, {.ttl = seconds(2), .clock = clock});
  auto first = locker.Acquire("stock", {.auto_renew = false});
  ASSERT_TRUE(first.ok());
  const FencingToken late = first->token();
  clock->Advance(seconds(3));  // paused past its TTL
  auto second = locker.Acquire("stock");
  ASSERT_TRUE(second.ok());
  ASSERT_GT(second->token(), late);
  ASSERT_TRUE(guard_->Apply(path_, second->token(), {"second"}).ok());
  auto resumed = guard_->Apply(path_, late, {"first, late"});
  EXPECT_EQ(resumed.status().code(), Code::kStale);
  EXPECT_EQ(Read(path_), "second");
}

}  // namespace
}  // namespace dlock::fence
