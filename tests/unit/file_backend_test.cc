// What is particular to the file backend; the shared semantics are in the conformance
// suite.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "dlock/backends/file.h"
#include "dlock/locker.h"
#include "dlock/open.h"
#include "file/name_encoding.h"
#include "file/record_format.h"
#include "test_util.h"

namespace dlock {
namespace {

using std::chrono::seconds;
using test::TempDir;

AcquireRequest Request(std::string name, std::chrono::milliseconds ttl = seconds(30)) {
  return {std::move(name), ttl, NewOwnerId(), HolderInfo::ThisProcess()};
}

std::set<std::string> FilesUnder(const std::filesystem::path& root) {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    out.insert(std::filesystem::relative(e.path(), root).string());
  }
  return out;
}

TEST(LockFileNameTest, KeepsEveryNameInsideTheDirectory) {
  for (std::string name : {"../../etc/passwd", "/etc/passwd", "..", ".", "a/../../b",
                           "jobs/nightly", ".hidden", "a\\b", "a b", "ünï"}) {
    std::string file = internal::LockFileName(name);
    EXPECT_EQ(file.find('/'), std::string::npos) << name;
    EXPECT_NE(file[0], '.') << name;
    EXPECT_TRUE(file.ends_with(".lock")) << name;
  }
  EXPECT_EQ(internal::LockFileName("jobs/nightly"), "jobs%2Fnightly.lock");
  EXPECT_EQ(internal::LockFileName("a.b"), "a.b.lock");
}

TEST(LockFileNameTest, IsInjectiveOnSimilarNames) {
  std::set<std::string> files;
  for (std::string name : {"a/b", "a%2Fb", "a_b", "a-b", "a.b", ".ab", "%2Eab"}) {
    EXPECT_TRUE(files.insert(internal::LockFileName(name)).second) << name;
  }
}

TEST(LockFileNameTest, LongNamesAreHashedWithinLimits) {
  std::string a(512, 'a');
  std::string b = a;
  b.back() = 'b';
  std::string fa = internal::LockFileName(a);
  std::string fb = internal::LockFileName(b);
  EXPECT_LE(fa.size(), 200u);
  EXPECT_NE(fa, fb);
  EXPECT_LE(internal::LockFileName(std::string(512, '/')).size(), 200u);
}

TEST(RecordFormatTest, RoundTripsAndIgnoresTrailingGarbage) {
  internal::LockRecord r;
  r.name = "jobs/nightly\xff";
  r.token = 17;
  r.owner = NewOwnerId();
  r.expires = std::chrono::steady_clock::time_point(seconds(1234));
  r.ttl = seconds(30);
  r.holder = {"host one", 42, std::chrono::system_clock::time_point(seconds(1'700'000'000))};
  std::string text = internal::SerializeRecord(r, "boot-1") + "junk from a longer record";
  internal::LockRecord back;
  ASSERT_TRUE(internal::ParseRecord(text, "boot-1", back).ok());
  EXPECT_EQ(back.name, r.name);
  EXPECT_EQ(back.token, 17u);
  EXPECT_EQ(back.owner, r.owner);
  EXPECT_EQ(back.expires, r.expires);
  EXPECT_EQ(back.holder.host, "host one");
  EXPECT_EQ(back.holder.pid, 42);
}

TEST(RecordFormatTest, RecordFromAnotherBootHasNoHolderButKeepsItsToken) {
  internal::LockRecord r;
  r.name = "x";
  r.token = 9;
  r.owner = NewOwnerId();
  r.expires = std::chrono::steady_clock::time_point(seconds(10'000'000));
  internal::LockRecord back;
  ASSERT_TRUE(internal::ParseRecord(internal::SerializeRecord(r, "old"), "new", back).ok());
  EXPECT_TRUE(back.owner.empty());
  EXPECT_EQ(back.token, 9u);
}

TEST(RecordFormatTest, RejectsCorruptText) {
  internal::LockRecord back;
  for (std::string bad :
       {"", "hello\n", "dlock-lock 1\nname x\n", "dlock-lock 1\ntoken x\nend\n"}) {
    EXPECT_EQ(internal::ParseRecord(bad, "b", back).code(), Code::kFailedPrecondition) << bad;
  }
}

TEST(QueueFormatTest, TheLineSurvivesTheFileFormat) {
  internal::LockRecord r;
  r.name = "q";
  r.queue = {{"a1", std::chrono::steady_clock::time_point(seconds(5))},
             {"b2", std::chrono::steady_clock::time_point(seconds(6))}};
  internal::LockRecord back;
  ASSERT_TRUE(internal::ParseRecord(internal::SerializeRecord(r, "boot"), "boot", back).ok());
  ASSERT_EQ(back.queue.size(), 2u);
  EXPECT_EQ(back.queue[0].owner, "a1");
  EXPECT_EQ(back.queue[1].expires, std::chrono::steady_clock::time_point(seconds(6)));
  internal::LockRecord other_boot;
  ASSERT_TRUE(internal::ParseRecord(internal::SerializeRecord(r, "old"), "new", other_boot).ok());
  EXPECT_TRUE(other_boot.queue.empty());
}

class FileBackendTest : public ::testing::Test {
 protected:
  std::shared_ptr<Backend> Open(FileOptions options = {}) {
    if (options.dir.empty()) options.dir = dir_.path() / "locks";
    auto backend = MakeFileBackend(options);
    EXPECT_TRUE(backend.ok()) << backend.status().ToString();
    return backend.ok() ? *backend : nullptr;
  }
  TempDir dir_;
};

// The store's drift margin (?drift_factor=&drift_ms=) shortens each lease, and Locker
// refuses a TTL the margin would leave less than half of.
TEST_F(FileBackendTest, TheDriftMarginShortensLeasesAndRefusesTooShortATtl) {
  FileOptions options;
  options.drift = {.factor = 0.1, .fixed = std::chrono::milliseconds(50)};
  auto backend = Open(options);
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->drift().fixed, std::chrono::milliseconds(50));
  Locker locker(backend);
  const auto before = std::chrono::steady_clock::now();
  auto lock = locker.Acquire("drift", {.ttl = seconds(1)});
  const auto after = std::chrono::steady_clock::now();
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  // 1 s less 10% and 50 ms, counted from a start between before and after.
  EXPECT_GE(lock->lease().valid_until, before + std::chrono::milliseconds(850));
  EXPECT_LE(lock->lease().valid_until, after + std::chrono::milliseconds(850));
  EXPECT_TRUE(lock->Release().ok());

  auto short_ttl = locker.Acquire("drift", {.ttl = std::chrono::milliseconds(100)});
  ASSERT_FALSE(short_ttl.ok());
  EXPECT_EQ(short_ttl.status().code(), Code::kInvalidArgument);
  EXPECT_NE(short_ttl.status().message().find("too short for the store's drift margin"),
            std::string::npos)
      << short_ttl.status().message();
  auto state = backend->Inspect("drift");
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->held);  // nothing was sent, nothing is held

  FileOptions bad;
  bad.drift = {.factor = 0.9};
  auto refused = Locker(Open(bad)).Acquire("drift");
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
}

TEST_F(FileBackendTest, CreatesItsDirectoryPrivate) {
  Open();
  struct stat st {};
  ASSERT_EQ(::stat((dir_.path() / "locks").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(FileBackendTest, RefusesAWorldWritableDirectory) {
  std::filesystem::create_directory(dir_.path() / "open");
  ::chmod((dir_.path() / "open").c_str(), 0777);
  auto backend = MakeFileBackend({.dir = dir_.path() / "open"});
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(backend.status().message().find("writable by every user"), std::string::npos);
}

TEST_F(FileBackendTest, RefusesAFileAsDirectory) {
  std::ofstream(dir_.path() / "plain") << "x";
  auto backend = MakeFileBackend({.dir = dir_.path() / "plain"});
  ASSERT_FALSE(backend.ok());
  EXPECT_EQ(backend.status().code(), Code::kFailedPrecondition);
}

TEST_F(FileBackendTest, OddNamesNeverWriteOutsideTheDirectory) {
  auto backend = Open();
  std::vector<std::string> names = {"../escape",          "../../escape", "/tmp/escape",
                                    "a/../../escape",     "..",           "jobs/nightly",
                                    std::string(512, '.')};
  for (const std::string& name : names) {
    auto lease = backend->TryAcquire(Request(name));
    ASSERT_TRUE(lease.ok()) << name << ": " << lease.status().ToString();
    EXPECT_TRUE(backend->Release(*lease).ok());
  }
  for (const std::string& f : FilesUnder(dir_.path())) {
    EXPECT_TRUE(f == "locks" || f.starts_with("locks/")) << f;
    EXPECT_EQ(f.find('/', 6), std::string::npos) << f;  // no sub-directories
  }
}

TEST_F(FileBackendTest, TokensSurviveANewBackendObject) {
  FencingToken last = 0;
  for (int round = 0; round < 3; ++round) {
    auto backend = Open();  // as a restarted process would
    auto lease = backend->TryAcquire(Request("restart"));
    ASSERT_TRUE(lease.ok());
    EXPECT_GT(lease->token, last);
    last = lease->token;
    ASSERT_TRUE(backend->Release(*lease).ok());
  }
}

TEST_F(FileBackendTest, NewLockFilesStartTheirCounterAtTheWallClock) {
  auto backend = Open();
  auto lease = backend->TryAcquire(Request("fresh"));
  ASSERT_TRUE(lease.ok());
  auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  EXPECT_GT(lease->token, static_cast<FencingToken>(now_us) - 60'000'000);
  EXPECT_LE(lease->token, static_cast<FencingToken>(now_us) + 1);
}

TEST_F(FileBackendTest, ReleaseOfANameNeverUsedCreatesNothing) {
  auto backend = Open();
  EXPECT_EQ(backend->Release({.name = "never", .owner_id = NewOwnerId()}).code(), Code::kNotHeld);
  EXPECT_EQ(backend->ForceRelease("never").code(), Code::kNotHeld);
  EXPECT_FALSE(backend->Inspect("never")->held);
  EXPECT_TRUE(FilesUnder(dir_.path() / "locks").empty());
}

TEST_F(FileBackendTest, CorruptFileIsAClearError) {
  auto backend = Open();
  std::ofstream(dir_.path() / "locks" / "bad.lock") << "not a lock file\n";
  auto lease = backend->TryAcquire(Request("bad"));
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(lease.status().message().find("corrupt"), std::string::npos);
}

TEST_F(FileBackendTest, OptionsFromTheUri) {
  std::string uri = "file://" + (dir_.path() / "viauri").string() + "?fsync=true&timeout=500ms";
  auto backend = OpenBackend(uri);
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  auto lease = (*backend)->TryAcquire(Request("x"));
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*backend)->kind(), "file");
}

TEST(DefaultFileDirTest, UsesXdgRuntimeDirElseTmp) {
  const char* old = std::getenv("XDG_RUNTIME_DIR");
  std::string saved = old ? old : "";
  ::setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
  EXPECT_EQ(DefaultFileDir(), std::filesystem::path("/run/user/4242/dlock"));
  ::unsetenv("XDG_RUNTIME_DIR");
  EXPECT_EQ(DefaultFileDir(), std::filesystem::path("/tmp/dlock-" + std::to_string(::getuid())));
  if (old) ::setenv("XDG_RUNTIME_DIR", saved.c_str(), 1);
}

}  // namespace
}  // namespace dlock
