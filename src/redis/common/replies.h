// replies.h: reading the replies of dlock's Lua scripts, shared by redis:// and
// redlock://. (A server's error reply as a Status is the client's: ReplyError in
// redis/client/reply_error.h.)
//
// Thread-safety: pure functions.
#ifndef DLOCK_SRC_REDIS_COMMON_REPLIES_H_
#define DLOCK_SRC_REDIS_COMMON_REPLIES_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "dlock/lease.h"
#include "redis/client/protocol.h"

namespace dlock::redis {

// An integer reply, or a string holding one; 0 otherwise.
std::int64_t ToInt(const Reply& r);
// A fencing token: an integer reply, or a string holding an unsigned 64-bit decimal (the
// scripts of redis:// send tokens as strings, beyond 2^53 and 2^63); 0 otherwise.
FencingToken ToToken(const Reply& r);

// One server's answer to the inspect script: the lock's state there, and its fencing
// counter. kInternal-free: a malformed reply gives nullopt.
struct InstanceState {
  LockState state;  // token: the holder's when held, else the counter
  FencingToken counter = 0;
};
std::optional<InstanceState> ParseInspectReply(std::string_view name, const Reply& reply);

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_COMMON_REPLIES_H_
