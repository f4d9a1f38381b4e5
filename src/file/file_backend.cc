// The embedded backend: one file per lock name in a directory, changed under flock(2).
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "core/lease_rules.h"
#include "core/line_backend.h"
#include "core/lock_record.h"
#include "dlock/backends/file.h"
#include "file/name_encoding.h"
#include "file/posix.h"
#include "file/record_format.h"

namespace dlock {
namespace {

using internal::Fd;
using internal::FromErrno;
using internal::LockRecord;
using internal::TimePoint;

// One inotify watch on one file, on an inotify instance borrowed from a pool: closing an
// inotify instance waits for an RCU grace period (milliseconds), so instances are
// reused rather than closed after each wait.
class InotifyPool {
 public:
  ~InotifyPool() {
    for (int fd : idle_) ::close(fd);
  }
  int Take() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        int fd = idle_.back();
        idle_.pop_back();
        return fd;
      }
    }
    return inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  }
  void Give(int fd) {
    std::lock_guard lock(mu_);
    idle_.push_back(fd);
  }

 private:
  std::mutex mu_;
  std::vector<int> idle_;  // guarded by mu_
};

class FileWatch {
 public:
  FileWatch(InotifyPool& pool, int fd, int wd) : pool_(&pool), fd_(fd), wd_(wd) {}
  FileWatch(FileWatch&& o) noexcept : pool_(o.pool_), fd_(o.fd_), wd_(o.wd_) { o.pool_ = nullptr; }
  FileWatch(const FileWatch&) = delete;
  FileWatch& operator=(const FileWatch&) = delete;
  FileWatch& operator=(FileWatch&&) = delete;
  ~FileWatch() {
    if (pool_ == nullptr) return;
    inotify_rm_watch(fd_, wd_);
    Drain();
    pool_->Give(fd_);
  }
  int fd() const { return fd_; }
  // Reads pending events; true if one is about this watch.
  bool Changed() { return Drain(); }

 private:
  bool Drain() {
    bool ours = false;
    alignas(inotify_event) std::array<char, 4096> buf;
    ssize_t n;
    while ((n = ::read(fd_, buf.data(), buf.size())) > 0) {
      for (ssize_t off = 0; off < n;) {
        auto* e = reinterpret_cast<const inotify_event*>(buf.data() + off);
        ours = ours || (e->wd == wd_ && !(e->mask & IN_IGNORED));
        off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      }
    }
    return ours;
  }

  InotifyPool* pool_;
  int fd_;
  int wd_;
};

std::string ReadBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id.empty() ? "unknown" : id;
}

class FileBackend final : public internal::LineBackend {
 public:
  FileBackend(FileOptions options, int dir_fd)
      : options_(std::move(options)), dir_fd_(dir_fd), boot_id_(ReadBootId()) {}
  ~FileBackend() override { ::close(dir_fd_); }

  Result<Lease> TryAcquire(const AcquireRequest& request) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateAcquireRequest(request));
    auto start = options_.clock->Now();
    Lease lease;
    DLOCK_RETURN_IF_ERROR(
        Mutate(request.name, kCreate, [&](LockRecord& record, bool is_new) -> Status {
          // A new file starts its counter at the wall clock in microseconds, so tokens keep
          // increasing even if the directory (say, a tmpfs) is wiped by a reboot.
          FencingToken floor = is_new ? WallMicros() : 0;
          auto token = internal::RecordAcquire(record, request, options_.clock->Now(), floor);
          if (!token.ok()) return token.status();
          lease = internal::RecordLease(record, start, options_.drift);
          return OkStatus();
        }));
    return lease;
  }

  Result<Lease> Extend(const Lease& lease, std::chrono::milliseconds ttl) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    DLOCK_RETURN_IF_ERROR(ValidateTtl(ttl));
    auto start = options_.clock->Now();
    Lease out;
    DLOCK_RETURN_IF_ERROR(Mutate(lease.name, kExisting, [&](LockRecord& record, bool) -> Status {
      DLOCK_RETURN_IF_ERROR(
          internal::RecordExtend(record, lease.owner_id, ttl, options_.clock->Now()));
      out = internal::RecordLease(record, start, options_.drift);
      return OkStatus();
    }));
    return out;
  }

  Status Release(const Lease& lease) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    return Mutate(lease.name, kExisting, [&](LockRecord& record, bool) {
      return internal::RecordRelease(record, lease.owner_id, options_.clock->Now());
    });
  }

  Status ForceRelease(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    return Mutate(name, kExisting, [&](LockRecord& record, bool) {
      return internal::RecordForceRelease(record, options_.clock->Now());
    });
  }

  Result<LockState> Inspect(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    auto record = Read(name);
    if (!record.ok()) return record.status();
    LockState state = internal::RecordState(*record, options_.clock->Now());
    state.name = std::string(name);
    return state;
  }

  Status LeaveQueue(std::string_view name, std::string_view owner_id) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    Status s = Mutate(name, kExisting, [&](LockRecord& record, bool) {
      internal::RecordLeaveQueue(record, owner_id);
      return OkStatus();
    });
    return s.code() == Code::kNotHeld ? OkStatus() : s;  // no file: nobody in line
  }

  Status Wait(std::string_view name, std::chrono::steady_clock::time_point deadline,
              std::stop_token stop, std::string_view waiter) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    // Watch first, then look: a release between the two is seen either way.
    auto watch = Watch(Path(internal::LockFileName(name)));
    if (!watch.ok()) {
      return watch.status().code() == Code::kNotHeld ? OkStatus() : watch.status();
    }
    auto record = Read(name);
    if (!record.ok()) return record.status();
    const auto start = options_.clock->Now();
    if (!internal::RecordMustWait(*record, start, waiter)) return OkStatus();
    // Wake on a change, at the holder's expiry, and, for a queued waiter, in time to renew
    // its place in line.
    auto expires = record->HeldAt(start) ? record->expires : Clock::TimePoint::max();
    if (!waiter.empty()) expires = std::min(expires, start + internal::kWaiterLease / 3);

    Fd wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (wake.get() < 0) return FromErrno(errno, "eventfd");
    std::stop_callback on_stop(stop, [&] {
      std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(wake.get(), &one, sizeof one);
    });
    while (true) {
      if (stop.stop_requested()) return CancelledError("wait cancelled");
      auto now = options_.clock->Now();
      if (now >= expires) return OkStatus();
      if (now >= deadline) return DeadlineExceededError("still held at the deadline");
      auto left = std::chrono::ceil<std::chrono::milliseconds>(std::min(expires, deadline) - now);
      std::array<pollfd, 2> fds{{{watch->fd(), POLLIN, 0}, {wake.get(), POLLIN, 0}}};
      int n = ::poll(fds.data(), fds.size(),
                     static_cast<int>(std::min<std::int64_t>(left.count(), 60'000)));
      if (n < 0 && errno != EINTR) return FromErrno(errno, "poll");
      if (n > 0 && (fds[0].revents & POLLIN) && watch->Changed()) return OkStatus();
    }
  }

  std::string_view kind() const override { return "file"; }
  DriftMargin drift() const override { return options_.drift; }

 private:
  std::string Path(const std::string& file) const { return (options_.dir / file).string(); }

  // The record under a shared flock; an empty one if the lock was never taken.
  Result<LockRecord> Read(std::string_view name) {
    std::string file = internal::LockFileName(name);
    LockRecord record;
    record.name = std::string(name);
    Fd fd(::openat(dir_fd_, file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd.get() < 0) {
      if (errno == ENOENT) return record;
      return FromErrno(errno, fmt::format("cannot open lock file {}", Path(file)));
    }
    DLOCK_RETURN_IF_ERROR(LockFile(fd.get(), LOCK_SH, file));
    bool is_new = false;
    DLOCK_RETURN_IF_ERROR(Load(fd.get(), file, name, record, is_new));
    return record;
  }

  // kNotHeld if the file does not exist (the lock was never taken).
  Result<FileWatch> Watch(const std::string& path) {
    int fd = inotify_.Take();
    if (fd < 0) return FromErrno(errno, "inotify_init1");
    int wd =
        inotify_add_watch(fd, path.c_str(), IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB);
    if (wd < 0) {
      int err = errno;
      inotify_.Give(fd);
      if (err == ENOENT) return NotHeldError("no lock file");
      return FromErrno(err, fmt::format("cannot watch {}", path));
    }
    return FileWatch(inotify_, fd, wd);
  }

  static FencingToken WallMicros() {
    return static_cast<FencingToken>(std::chrono::duration_cast<std::chrono::microseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
  }

  // flock with a bound: the critical sections are microseconds long, so waiting longer
  // than op_timeout means the other process is stopped or hung inside one.
  Status LockFile(int fd, int how, const std::string& file) {
    return internal::LockWithTimeout(fd, how, options_.op_timeout, Path(file));
  }

  Status Load(int fd, const std::string& file, std::string_view name, LockRecord& record,
              bool& is_new) {
    std::array<char, 8192> buf{};
    ssize_t n = ::pread(fd, buf.data(), buf.size(), 0);
    if (n < 0) return FromErrno(errno, fmt::format("cannot read {}", Path(file)));
    is_new = n == 0;
    if (is_new) {
      record = LockRecord{};
      record.name = std::string(name);
      return OkStatus();
    }
    Status parsed = internal::ParseRecord(std::string_view(buf.data(), static_cast<std::size_t>(n)),
                                          boot_id_, record);
    if (!parsed.ok()) {
      return FailedPreconditionError(fmt::format(
          "{}: {}; remove it to reset the lock (its fencing counter restarts from the clock)",
          Path(file), parsed.message()));
    }
    if (record.name != name) {
      return FailedPreconditionError(fmt::format(
          "{} belongs to another lock name (hash collision); use a shorter name", Path(file)));
    }
    return OkStatus();
  }

  enum Open { kCreate, kExisting };

  // Opens the lock's file (creating it only for kCreate: a lock file is never removed,
  // as removing it under flock races with processes that opened it already), takes its
  // flock, loads the record, applies `op`, and writes the record back if `op` changed it,
  // even when `op` fails (it may have cleared an expired holder on the way).
  template <class Op>
  Status Mutate(std::string_view name, Open mode, Op op) {
    std::string file = internal::LockFileName(name);
    int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | (mode == kCreate ? O_CREAT : 0);
    Fd fd(::openat(dir_fd_, file.c_str(), flags, 0666));
    if (fd.get() < 0) {
      if (errno == ENOENT && mode == kExisting) {
        return NotHeldError(fmt::format("lock '{}' is not held", name));
      }
      return FromErrno(errno, fmt::format("cannot open lock file {}", Path(file)));
    }
    DLOCK_RETURN_IF_ERROR(LockFile(fd.get(), LOCK_EX, file));
    LockRecord record;
    bool is_new = false;
    DLOCK_RETURN_IF_ERROR(Load(fd.get(), file, name, record, is_new));
    std::string before = is_new ? std::string() : internal::SerializeRecord(record, boot_id_);
    Status status = op(record, is_new);
    std::string after = internal::SerializeRecord(record, boot_id_);
    if (after != before && (status.ok() || !is_new)) {
      DLOCK_RETURN_IF_ERROR(Store(fd.get(), file, after));
    }
    return status;
  }

  Status Store(int fd, const std::string& file, const std::string& text) {
    ssize_t n = ::pwrite(fd, text.data(), text.size(), 0);
    if (n != static_cast<ssize_t>(text.size())) {
      return FromErrno(n < 0 ? errno : ENOSPC, fmt::format("cannot write {}", Path(file)));
    }
    // The record ends at its "end" line, so a failed ftruncate leaves it readable; not
    // worth failing a change that others can already see.
    [[maybe_unused]] int truncated = ::ftruncate(fd, static_cast<off_t>(text.size()));
    if (options_.fsync && ::fdatasync(fd) != 0) {
      return FromErrno(errno, fmt::format("cannot sync {}", Path(file)));
    }
    return OkStatus();
  }

  const FileOptions options_;
  const int dir_fd_;  // owned; closed in the destructor
  const std::string boot_id_;
  InotifyPool inotify_;
};

}  // namespace

Result<std::shared_ptr<Backend>> MakeFileBackend(const FileOptions& options) {
  if (options.dir.empty()) return InvalidArgumentError("the file backend needs a directory");
  FileOptions opts = options;
  if (!opts.clock) opts.clock = SystemClock();
  std::error_code ec;
  opts.dir = std::filesystem::absolute(opts.dir, ec);
  if (ec) return FailedPreconditionError(fmt::format("bad lock directory: {}", ec.message()));
  if (!std::filesystem::exists(opts.dir, ec)) {
    std::filesystem::create_directories(opts.dir, ec);
    if (ec) {
      return FailedPreconditionError(
          fmt::format("cannot create lock directory {}: {}", opts.dir.string(), ec.message()));
    }
    ::chmod(opts.dir.c_str(), 0700);
  }
  int dir_fd = ::open(opts.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return FromErrno(errno, fmt::format("cannot open lock directory {}", opts.dir.string()));
  }
  struct stat st {};
  if (::fstat(dir_fd, &st) != 0 || (st.st_mode & S_IWOTH)) {
    ::close(dir_fd);
    return FailedPreconditionError(fmt::format(
        "lock directory {} is writable by every user, so anyone could tamper with its locks; "
        "use a directory only trusted users can write",
        opts.dir.string()));
  }
  if (::faccessat(dir_fd, ".", W_OK, AT_EACCESS) != 0) {
    int err = errno;
    ::close(dir_fd);
    return FromErrno(err, fmt::format("lock directory {} is not writable", opts.dir.string()));
  }
  return std::shared_ptr<Backend>(std::make_shared<FileBackend>(std::move(opts), dir_fd));
}

std::filesystem::path DefaultFileDir() {
  const char* runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime != nullptr && runtime[0] == '/') return std::filesystem::path(runtime) / "dlock";
  return fmt::format("/tmp/dlock-{}", ::getuid());
}

}  // namespace dlock
