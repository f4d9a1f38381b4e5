// status.h: how every dlock operation reports success or failure.
//
// dlock never throws across its API. Expected outcomes (contention, expiry, outages,
// bad input) come back as a Status or a Result<T> with a lock-specific Code.
//
// Thread-safety: const methods may be called concurrently; otherwise like std::string.
#ifndef DLOCK_STATUS_H_
#define DLOCK_STATUS_H_

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "dlock/export.h"

namespace dlock {

enum class Code : std::uint8_t {
  kOk = 0,
  // Another owner holds the lock. Retrying later may succeed (Locker does, with backoff).
  kContended,
  // Extend/Release: this owner does not hold the lock (expired, released, taken over, or
  // a wrong owner id). Never retry: the critical section must stop.
  kNotHeld,
  // The store could not be reached or did not answer in time. Retrying the call may succeed.
  kUnavailable,
  // The caller's deadline passed while waiting (e.g. Locker::Acquire with a wait).
  kDeadlineExceeded,
  // The caller's stop_token was triggered.
  kCancelled,
  // Bad lock name, TTL, duration, URI or option. Fix the input; do not retry.
  kInvalidArgument,
  // The store refuses us or is misconfigured (permissions, auth, corrupt state), or the
  // call cannot work from where it was made (a blocking call in an asynchronous callback;
  // an Acquire of a lock the same thread already holds through the same Locker). Do not
  // retry until it is fixed.
  kFailedPrecondition,
  // The backend or feature is not available in this build.
  kUnimplemented,
  // A bug or an unexpected system error.
  kInternal,
  // A fenced write (fence.h) carried a fencing token older than one the resource has
  // seen: its lock was lost (paused, partitioned, late) and nothing was written. Never
  // retry with the same token.
  kStale,
};

// Lower-case name of the code, e.g. "contended", "not-held", "deadline-exceeded".
DLOCK_API std::string_view CodeName(Code code);

// True where repeating the same call may succeed: kContended and kUnavailable.
DLOCK_API bool IsRetryable(Code code);

class [[nodiscard]] DLOCK_API Status {
 public:
  Status() = default;  // OK
  // `message` is kept on one line: control bytes in it (say, a newline in an argument
  // the message quotes) become the text \xNN.
  Status(Code code, std::string message);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "OK", or "<code name>: <message>".
  std::string ToString() const;

  // Marks a status as deliberately ignored, so that doing so is visible in review.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }
DLOCK_API Status ContendedError(std::string message);
DLOCK_API Status NotHeldError(std::string message);
DLOCK_API Status UnavailableError(std::string message);
DLOCK_API Status DeadlineExceededError(std::string message);
DLOCK_API Status CancelledError(std::string message);
DLOCK_API Status InvalidArgumentError(std::string message);
DLOCK_API Status FailedPreconditionError(std::string message);
DLOCK_API Status UnimplementedError(std::string message);
DLOCK_API Status InternalError(std::string message);
DLOCK_API Status StaleError(std::string message);

// Holds either a T or a non-OK Status.
template <class T>
class [[nodiscard]] DLOCK_API Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose
  // REQUIRES: !status.ok()
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit on purpose
    assert(!status_.ok());
    if (status_.ok()) status_ = InternalError("Result constructed from an OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const& { return status_; }
  Status status() && { return std::move(status_); }

  // REQUIRES: ok()
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  Status status_;  // OK when value_ is set
};

}  // namespace dlock

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define DLOCK_RETURN_IF_ERROR(expr) DLOCK_RETURN_IF_ERROR_IMPL_(expr, __LINE__)
#define DLOCK_RETURN_IF_ERROR_IMPL_(expr, line) DLOCK_RETURN_IF_ERROR_IMPL2_(expr, line)
#define DLOCK_RETURN_IF_ERROR_IMPL2_(expr, line)               \
  do {                                                         \
    ::dlock::Status dlock_status_##line = (expr);              \
    if (!dlock_status_##line.ok()) return dlock_status_##line; \
  } while (0)

#endif  // DLOCK_STATUS_H_
