#include "dlock/status.h"

#include <fmt/format.h>

#include <algorithm>

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
    case Code::kStale: return "stale";
  }
  return "unknown";
}

bool IsRetryable(Code code) { return code == Code::kContended || code == Code::kUnavailable; }

namespace {

// Messages are one line: control bytes (a newline in a user's argument quoted back, a
// store's multi-line error) become \xNN.
std::string OneLine(std::string message) {
  auto control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  if (std::none_of(message.begin(), message.end(), control)) return message;
  std::string out;
  for (unsigned char c : message) {
    if (control(c)) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

Status::Status(Code code, std::string message)
    : code_(code), message_(OneLine(std::move(message))) {}

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
Status StaleError(std::string m) { return {Code::kStale, std::move(m)}; }

}  // namespace dlock
