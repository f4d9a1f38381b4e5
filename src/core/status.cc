#include "dlock/status.h"

namespace dlock {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kContended: return "contended";
    case Code::kNotHeld: return "not-held";
    case Code::kUnavailable: return "unavailable";
    case Code::kDeadlineExceeded: return "deadline-exceeded";
    case Code::kCancelled: return "cancelled";
    case Code::kInvalidArgument: return "invalid-argument";
    case Code::kFailedPrecondition: return "failed-precondition";
    case Code::kUnimplemented: return "unimplemented";
    case Code::kInternal: return "internal";
  }
  return "unknown";
}

bool IsRetryable(Code code) { return code == Code::kContended || code == Code::kUnavailable; }

Status::Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status ContendedError(std::string m) { return {Code::kContended, std::move(m)}; }
Status NotHeldError(std::string m) { return {Code::kNotHeld, std::move(m)}; }
Status UnavailableError(std::string m) { return {Code::kUnavailable, std::move(m)}; }
Status DeadlineExceededError(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
Status CancelledError(std::string m) { return {Code::kCancelled, std::move(m)}; }
Status InvalidArgumentError(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
Status FailedPreconditionError(std::string m) { return {Code::kFailedPrecondition, std::move(m)}; }
Status UnimplementedError(std::string m) { return {Code::kUnimplemented, std::move(m)}; }
Status InternalError(std::string m) { return {Code::kInternal, std::move(m)}; }

}  // namespace dlock
