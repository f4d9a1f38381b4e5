// backends/redis_cluster.h: Redis Cluster (`redis+cluster://`, and `rediss+cluster://`
// for TLS to every node).
//
// The redis:// backend (backends/redis.h: the same keys, scripts, wait line, pipelining
// and asynchronous calls) on each master of the cluster, and every call on a lock sent to
// the master that owns the hash slot of its `{NAME}` tag (CRC16 mod 16384; the lock key,
// its counter, its line and its epoch all carry that tag, so one script touches one
// slot). The slot map comes from `CLUSTER NODES` on the first node that answers (the
// seeds in turn, then every node already known); it is read again when a node answers
// `MOVED` (the call is then sent once more, to the node named), `ASK` or `TRYAGAIN` (a
// slot being migrated: the call is sent again after a short pause, until the migration
// ends or the call's time runs out), `CLUSTERDOWN`, `READONLY`, or cannot be reached (a
// failover). Wake-ups: the release scripts publish on the lock's channel; a waiter
// listens on the master of its slot, where those scripts run.
//
// Fencing tokens carry the slot master's `configEpoch` (read from the same CLUSTER NODES
// answer as its address and its slots) in their high 24 bits and the lock's counter in
// the low 40, as redis+sentinel:// does with Sentinel's config-epoch: Redis Cluster gives
// a master promoted by a failover, and a master that takes a slot over from another, a
// configEpoch above every other node's, so every token of a newer owner of a slot is
// higher than every token of the one it replaced, even one still granting across a
// partition. Mutual exclusion across a failover is NOT guaranteed (replication is
// asynchronous). docs/semantics.md, "redis+cluster://", states the claim and its
// assumptions.
//
// Thread-safety: safe for concurrent use, as backends/redis.h.
#ifndef DLOCK_BACKENDS_REDIS_CLUSTER_H_
#define DLOCK_BACKENDS_REDIS_CLUSTER_H_

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "dlock/backend.h"
#include "dlock/backends/redis.h"
#include "dlock/export.h"
#include "dlock/status.h"
#include "dlock/uri.h"

namespace dlock {

struct DLOCK_API RedisClusterOptions {
  std::vector<HostPort> seeds;  // asked for the slot map in this order; port 0: 6379
  // How to talk to every node (user, password, TLS, prefix, timeouts, pool, clock, drift,
  // wait_replicas); host and port are ignored (the slot map gives them); db must be 0.
  RedisOptions node;
};

// From redis+cluster://[user[:password]@]host[:port],host[:port],...[?opt=...] or
// rediss+cluster://. Options: those of redis:// (rediss:// for TLS). kInvalidArgument, one
// line, for no hosts, a bad port, a database other than 0, an unknown option.
DLOCK_API Result<RedisClusterOptions> RedisClusterOptionsFromUri(const BackendUri& uri);

// Reads the slot map and connects to the masters, so that unreachable seeds, a wrong
// password or a server that is not a cluster node are reported here: kUnavailable naming
// every seed tried and why each failed, kFailedPrecondition for authentication, TLS
// trust, or a node without cluster mode.
DLOCK_API Result<std::shared_ptr<Backend>> MakeRedisClusterBackend(
    const RedisClusterOptions& options);

// The hash slot of `key` as Redis Cluster computes it: CRC16 (XMODEM) mod 16384 of the
// text between the first `{` and the first `}` after it when that is not empty, of the
// whole key otherwise. A lock's keys are `PREFIX{NAME}...`. A pure function.
DLOCK_API std::uint16_t RedisClusterKeySlot(std::string_view key);

}  // namespace dlock

#endif  // DLOCK_BACKENDS_REDIS_CLUSTER_H_
