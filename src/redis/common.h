// common.h: what the redis:// and redlock:// backends share: key names, reply helpers,
// URI options, and building a connected Client.
#ifndef DLOCK_SRC_REDIS_COMMON_H_
#define DLOCK_SRC_REDIS_COMMON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dlock/backends/redis.h"
#include "dlock/uri.h"
#include "redis/client/client.h"

namespace dlock::redis {

// PREFIX{NAME}SUFFIX: one hash tag for every key of a lock.
std::string LockKey(std::string_view prefix, std::string_view name, std::string_view suffix = "");

// An integer reply, or a string holding one; 0 otherwise.
std::int64_t ToInt(const Reply& r);

// An error reply (or a reply of the wrong shape) as a Status: kFailedPrecondition for
// authentication and permission errors, kUnavailable for the rest.
Status ReplyError(const std::string& endpoint, const Reply& r);

// One server's answer to the inspect script: the lock's state there, and its fencing
// counter. kInternal-free: a malformed reply gives nullopt.
struct InstanceState {
  LockState state;  // token: the holder's when held, else the counter
  FencingToken counter = 0;
};
std::optional<InstanceState> ParseInspectReply(std::string_view name, const Reply& reply);

// Applies the URI's user, password, database and options to `o`. `tls` turns TLS on and
// allows its options (cacert, cert, key, insecure). `extra_keys` names options the
// caller handles itself (they are skipped here).
Status ApplyUri(const BackendUri& uri, bool tls, RedisOptions& o,
                const std::vector<std::string>& extra_keys = {});

// Client options for `o`, with its TLS context loaded.
Result<ClientOptions> MakeClientOptions(const RedisOptions& o);

// PING: OK, or why the server cannot be used (unreachable, auth, TLS).
Status Ping(Client& client);

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_COMMON_H_
