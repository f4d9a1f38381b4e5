#include "file/posix.h"

#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

namespace dlock::internal {

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Status FromErrno(int err, std::string_view what) {
  std::string message = fmt::format("{}: {}", what, std::strerror(err));
  if (err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN || err == EIO) {
    return UnavailableError(std::move(message));
  }
  return FailedPreconditionError(std::move(message));
}

Status LockWithTimeout(int fd, int how, std::chrono::milliseconds timeout, std::string_view what) {
  auto give_up = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(20);
  while (::flock(fd, how | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return FromErrno(errno, fmt::format("flock {}", what));
    if (std::chrono::steady_clock::now() >= give_up) {
      return UnavailableError(
          fmt::format("lock file {} stayed busy for {}ms; is a process stopped in the middle of an "
                      "operation on it?",
                      what, timeout.count()));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
  return OkStatus();
}

}  // namespace dlock::internal
