#include "core/async_scope.h"

#include <fmt/format.h>

namespace dlock::internal {
namespace {
thread_local int depth = 0;
}  // namespace

bool InAsyncCallback() { return depth > 0; }
AsyncCallbackScope::AsyncCallbackScope() { ++depth; }
AsyncCallbackScope::~AsyncCallbackScope() { --depth; }

Status BlockingInCallback(std::string_view what) {
  return FailedPreconditionError(
      fmt::format("{} would block within an asynchronous callback; use the Async form", what));
}

}  // namespace dlock::internal
