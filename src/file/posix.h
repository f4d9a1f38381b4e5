// posix.h: what the file room's stores share of POSIX: a file descriptor closed on scope
// exit, errno as a Status, and flock(2) with a bound.
//
// Thread-safety: plain functions; an Fd belongs to one owner.
#ifndef DLOCK_SRC_FILE_POSIX_H_
#define DLOCK_SRC_FILE_POSIX_H_

#include <chrono>
#include <string>
#include <string_view>

#include "dlock/status.h"

namespace dlock::internal {

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }

 private:
  int fd_;
};

// "what: strerror(err)": kUnavailable for what may pass (resource exhaustion, EIO),
// kFailedPrecondition for what must be fixed (permissions, a missing directory...).
Status FromErrno(int err, std::string_view what);

// flock(fd, how) (LOCK_EX or LOCK_SH), giving up with kUnavailable after `timeout`:
// critical sections under these locks are short, so waiting longer means the other
// process is stopped or hung inside one. `what` names the file in messages.
Status LockWithTimeout(int fd, int how, std::chrono::milliseconds timeout, std::string_view what);

}  // namespace dlock::internal

#endif  // DLOCK_SRC_FILE_POSIX_H_
