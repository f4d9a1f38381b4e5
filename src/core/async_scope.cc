#include "core/async_scope.h"

namespace dlock::internal {
namespace {
thread_local int depth = 0;
}  // namespace

bool InAsyncCallback() { return depth > 0; }
AsyncCallbackScope::AsyncCallbackScope() { ++depth; }
AsyncCallbackScope::~AsyncCallbackScope() { --depth; }

}  // namespace dlock::internal
