// redis_backend.h: the redis:// backend for one server, as redis+sentinel:// makes one for
// each master the sentinels name (src/redis/sentinel/).
//
// Thread-safety: the functions may be called from any thread; the backend is as
// dlock/backends/redis.h says.
#ifndef DLOCK_SRC_REDIS_REDIS_BACKEND_H_
#define DLOCK_SRC_REDIS_REDIS_BACKEND_H_

#include <cstdint>
#include <memory>

#include "dlock/backend.h"
#include "dlock/backends/redis.h"
#include "dlock/status.h"
#include "redis/client/client.h"

namespace dlock::redis {

// The largest failover epoch a token holds: 24 bits above its 40-bit counter
// (lua/token.lua, docs/semantics.md "redis+sentinel://").
inline constexpr std::uint32_t kMaxFencingEpoch = (1U << 24) - 1;

// A backend on `client`'s server (connected or not; nothing is sent here) whose tokens
// carry `epoch` (Sentinel's config-epoch of that master; 0 for redis://) in their high 24
// bits. Its scripts refuse (kUnavailable, "DLOCK_EPOCH") a lock last granted under a higher
// epoch. kFailedPrecondition for an epoch above kMaxFencingEpoch. `client` must have been
// made from `options` (MakeClientOptions). `sharded`: wake-ups by sharded pub/sub
// (SSUBSCRIBE, and SPUBLISH in the scripts: Redis 7, for redis+cluster://), else plain.
Result<std::shared_ptr<Backend>> MakeBackendOn(const RedisOptions& options, std::uint32_t epoch,
                                               std::unique_ptr<Client> client,
                                               bool sharded = false);

// OK if `client`'s server answers ROLE as master; kUnavailable naming the role it answers
// (a replica) or why it cannot be asked. Blocks for one round trip.
Status CheckMaster(Client& client);

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_REDIS_BACKEND_H_
