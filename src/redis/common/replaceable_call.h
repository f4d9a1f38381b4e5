// replaceable_call.h: calling the redis:// backend of one server that may be replaced
// under the call (redis+sentinel:// when the sentinels name a new master, redis+cluster://
// when the slot map stops naming the node): the Status of any call's result, and a wait
// that ends early, without an error, when its server is replaced, so that the caller asks
// again on the new one.
//
// Thread-safety: pure functions; CallUntilReplaced's stop callbacks may run on the
// threads that request the stops.
#ifndef DLOCK_SRC_REDIS_COMMON_REPLACEABLE_CALL_H_
#define DLOCK_SRC_REDIS_COMMON_REPLACEABLE_CALL_H_

#include <optional>
#include <stop_token>
#include <utility>

#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock::redis {

// The Status of a call's result: itself, or a Result's (OK for a value).
inline Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.ok() ? OkStatus() : r.status();
}

// What a wait that ended because its server was replaced returns: OK for a wait for a
// release (the caller looks again), no hand-off for a wait in line (it asks again).
inline Status EndedEarly(const Status&) { return OkStatus(); }
inline Result<std::optional<Lease>> EndedEarly(const Result<std::optional<Lease>>&) {
  return std::optional<Lease>();
}

// Runs `wait(token)`, with a token requested when `stop` is or when `replaced` is. A wait
// the replacement cancelled (kCancelled while `stop` was not requested) returns
// EndedEarly; any other result is returned as it is.
template <typename Fn>
auto CallUntilReplaced(Fn wait, const std::stop_token& stop, const std::stop_token& replaced)
    -> decltype(wait(std::stop_token())) {
  std::stop_source either;
  std::stop_callback on_stop(stop, [&] { either.request_stop(); });
  std::stop_callback on_replaced(replaced, [&] { either.request_stop(); });
  auto result = wait(either.get_token());
  if (StatusOf(result).code() == Code::kCancelled && !stop.stop_requested()) {
    return EndedEarly(result);
  }
  return result;
}

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_COMMON_REPLACEABLE_CALL_H_
