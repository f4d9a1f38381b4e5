// backends/redis_sentinel.h: Redis run by Sentinel (`redis+sentinel://`, and
// `rediss+sentinel://` for TLS to the sentinels and the master).
//
// The redis:// backend (backends/redis.h: the same keys, scripts, wait line, pipelining
// and asynchronous calls) on whichever server the sentinels name as the master of
// `master_name`: found by SENTINEL MASTER on the first sentinel that answers (the others
// in turn when one cannot be reached), refused unless it answers ROLE as master, and
// followed without the caller doing anything: at every `+switch-master` message (one
// sentinel's pub/sub, the next one's if it goes down), and whenever a call to the master
// fails (a demoted master's READONLY, a connection Sentinel closed, a timeout), the
// sentinels are asked again. Calls in flight at a failover fail (kUnavailable); the
// caller's next attempt goes to the new master.
//
// Fencing tokens carry the master's failover epoch (Sentinel's config-epoch, read from
// the same answer as its address) in their high 24 bits and the lock's counter in the low
// 40, so that every token of a newer master is higher than every token of the one it
// replaced, even one still granting across a partition. Mutual exclusion across a
// failover is NOT guaranteed (replication is asynchronous). docs/semantics.md,
// "redis+sentinel://", states the claim and its assumptions.
//
// Thread-safety: safe for concurrent use, as backends/redis.h.
#ifndef DLOCK_BACKENDS_REDIS_SENTINEL_H_
#define DLOCK_BACKENDS_REDIS_SENTINEL_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dlock/backend.h"
#include "dlock/backends/redis.h"
#include "dlock/export.h"
#include "dlock/status.h"
#include "dlock/uri.h"

namespace dlock {

struct DLOCK_API RedisSentinelOptions {
  std::vector<HostPort> sentinels;  // tried in this order; port 0: 26379
  std::string master_name;          // as in `sentinel monitor NAME ...`
  // How to talk to the master (user, password, db, TLS, prefix, timeouts, pool, clock,
  // drift); host and port are ignored: the sentinels' answer gives them. The sentinels are
  // reached with the same TLS options and timeouts.
  RedisOptions master;
  std::string sentinel_user;                     // ACL user on the sentinels; empty: default
  std::optional<std::string> sentinel_password;  // AUTH on the sentinels when set; never logged
};

// From redis+sentinel://[user[:password]@]host[:port],host[:port],.../MASTER_NAME[/db]
// [?opt=...] or rediss+sentinel://. Options: those of redis:// (rediss:// for TLS), and
// sentinel_user, sentinel_password. kInvalidArgument, one line, for a missing master name,
// no hosts, a bad port or database, an unknown option.
DLOCK_API Result<RedisSentinelOptions> RedisSentinelOptionsFromUri(const BackendUri& uri);

// Asks the sentinels for the master and connects to it (ROLE must say master), so that
// unreachable sentinels or master, a wrong password or an unknown master name are
// reported here: kUnavailable naming every sentinel tried and why each failed, or
// kFailedPrecondition (authentication, TLS trust, no master of that name).
DLOCK_API Result<std::shared_ptr<Backend>> MakeRedisSentinelBackend(
    const RedisSentinelOptions& options);

}  // namespace dlock

#endif  // DLOCK_BACKENDS_REDIS_SENTINEL_H_
