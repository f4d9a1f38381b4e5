// async_scope.h: marks the threads where a blocking call on a backend could deadlock:
// within a callback of an asynchronous call, and on a backend's own I/O thread (where
// callbacks run, and where the last copies of their captures are destroyed).
//
// Thread-safety: per thread (a thread_local depth).
#ifndef DLOCK_SRC_CORE_ASYNC_SCOPE_H_
#define DLOCK_SRC_CORE_ASYNC_SCOPE_H_

#include <string_view>
#include <utility>

#include "dlock/export.h"
#include "dlock/status.h"

namespace dlock::internal {

// DLOCK_API here: exported from a shared libdlock_core for dlock's own backends, which
// call it; internal all the same (this header is not installed).

// True within an AsyncCallbackScope on this thread.
DLOCK_API bool InAsyncCallback();

class DLOCK_API AsyncCallbackScope {
 public:
  AsyncCallbackScope();
  ~AsyncCallbackScope();
  AsyncCallbackScope(const AsyncCallbackScope&) = delete;
  AsyncCallbackScope& operator=(const AsyncCallbackScope&) = delete;
};

// Calls done(value) within an AsyncCallbackScope.
template <class Done, class T>
void Answer(const Done& done, T value) {
  AsyncCallbackScope scope;
  done(std::move(value));
}

// What a blocking call (`what`, e.g. "Release()") returns within an asynchronous callback.
DLOCK_API Status BlockingInCallback(std::string_view what);

}  // namespace dlock::internal

#endif  // DLOCK_SRC_CORE_ASYNC_SCOPE_H_
