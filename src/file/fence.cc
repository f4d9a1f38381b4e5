// The file guard: PATH.fence keeps the highest token PATH has seen; a write checks it,
// raises it and renames its new content over PATH, all under flock on PATH.fence.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <string>

#include "dlock/fence/file.h"
#include "file/posix.h"

namespace dlock::fence {
namespace {

using internal::Fd;
using internal::FromErrno;

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return FromErrno(n < 0 ? errno : ENOSPC, fmt::format("cannot write {}", what));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return OkStatus();
}

Status Sync(int fd, const std::string& what) {
  if (::fsync(fd) != 0) return FromErrno(errno, fmt::format("cannot sync {}", what));
  return OkStatus();
}

// The highest token in an open record; 0 for an empty (new) one.
Result<FencingToken> ReadRecord(int fd, const std::string& what) {
  char buf[64];
  ssize_t n;
  do {
    n = ::pread(fd, buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FromErrno(errno, fmt::format("cannot read {}", what));
  std::string_view text(buf, static_cast<std::size_t>(n));
  if (text.empty()) return FencingToken{0};
  if (text.back() == '\n') text.remove_suffix(1);
  FencingToken token = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), token);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return FailedPreconditionError(
        fmt::format("{} is not a fence record (one decimal token); was it written by "
                    "something else?",
                    what));
  }
  return token;
}

Status WriteRecord(int fd, FencingToken token, const std::string& what, bool sync) {
  const std::string text = fmt::format("{}\n", token);
  if (::ftruncate(fd, 0) != 0) return FromErrno(errno, fmt::format("cannot truncate {}", what));
  ssize_t n;
  do {
    n = ::pwrite(fd, text.data(), text.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(text.size())) {
    return FromErrno(n < 0 ? errno : ENOSPC, fmt::format("cannot write {}", what));
  }
  return sync ? Sync(fd, what) : OkStatus();
}

Status SyncDirectory(const std::filesystem::path& dir) {
  Fd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return FromErrno(errno, fmt::format("cannot open directory {}", dir.string()));
  return Sync(fd.get(), dir.string());
}

class FileGuard final : public Guard {
 public:
  explicit FileGuard(FileGuardOptions options) : options_(options) {}

  Result<std::string> Apply(std::string_view resource, FencingToken token,
                            const std::vector<std::string>& write) override {
    DLOCK_RETURN_IF_ERROR(ValidateFencedWrite(resource, token, write));
    if (write.size() != 1) {
      return InvalidArgumentError(
          fmt::format("a file's write is one string, its new content, not {}", write.size()));
    }
    DLOCK_RETURN_IF_ERROR(ReplaceFile(
        std::filesystem::path(resource), token,
        [&](int fd) { return WriteAll(fd, write[0], std::string(resource)); }, options_));
    return std::string();
  }

  Result<FencingToken> Highest(std::string_view resource) override {
    if (resource.empty()) return InvalidArgumentError("the resource name is empty");
    const std::string record = FenceRecordPath(std::filesystem::path(resource)).string();
    Fd fd(::open(record.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT) return FencingToken{0};
      return FromErrno(errno, fmt::format("cannot open {}", record));
    }
    DLOCK_RETURN_IF_ERROR(
        internal::LockWithTimeout(fd.get(), LOCK_SH, options_.op_timeout, record));
    return ReadRecord(fd.get(), record);
  }

  std::string_view kind() const override { return "file"; }

 private:
  const FileGuardOptions options_;
};

}  // namespace

std::filesystem::path FenceRecordPath(const std::filesystem::path& path) {
  std::filesystem::path record = path;
  record += ".fence";
  return record;
}

Status ReplaceFile(const std::filesystem::path& path, FencingToken token,
                   const std::function<Status(int fd)>& produce, const FileGuardOptions& options) {
  if (path.empty() || !path.has_filename()) {
    return InvalidArgumentError(fmt::format("'{}' does not name a file", path.string()));
  }
  if (token == 0) return InvalidArgumentError("fencing token 0: tokens start at 1");
  const std::string record = FenceRecordPath(path).string();
  Fd fd(::open(record.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return FromErrno(errno, fmt::format("cannot open {}", record));
  DLOCK_RETURN_IF_ERROR(internal::LockWithTimeout(fd.get(), LOCK_EX, options.op_timeout, record));
  auto highest = ReadRecord(fd.get(), record);
  if (!highest.ok()) return highest.status();
  if (token < *highest) return StaleTokenError(path.string(), token, *highest);

  std::string tmp = path.string() + ".XXXXXX";
  Fd out(::mkostemp(tmp.data(), O_CLOEXEC));
  if (out.get() < 0)
    return FromErrno(errno, fmt::format("cannot create a file beside {}", path.string()));
  Status written = produce(out.get());
  if (written.ok() && options.fsync) written = Sync(out.get(), tmp);
  if (written.ok()) {
    // Mode as a new file would get, not mkostemp's 0600: readers may be other users.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    if (::fchmod(out.get(), 0666 & ~mask) != 0) written = FromErrno(errno, "fchmod");
  }
  // The record first: a crash between the two leaves the token raised over the old
  // content, never new content that an older token could overwrite.
  if (written.ok() && token > *highest)
    written = WriteRecord(fd.get(), token, record, options.fsync);
  if (written.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    written = FromErrno(errno, fmt::format("cannot rename over {}", path.string()));
    if (token > *highest) WriteRecord(fd.get(), *highest, record, options.fsync).IgnoreError();
  }
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return written;
  }
  return options.fsync ? SyncDirectory(path.parent_path()) : OkStatus();
}

std::unique_ptr<Guard> MakeFileGuard(FileGuardOptions options) {
  return std::make_unique<FileGuard>(options);
}

}  // namespace dlock::fence
