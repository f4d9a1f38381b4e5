// backends/redis.h: one Redis server (`redis://`, `rediss://` for TLS).
//
// A lock is a hash `PREFIX{NAME}` (owner, token, host, pid, since) with a PEXPIRE, and
// its fencing counter is `PREFIX{NAME}:fence` (one hash tag, so Redis Cluster keeps them
// in one slot). Acquire, extend and release are Lua scripts (EVALSHA): acquire checks
// the key, INCRs the counter and writes the hash in one step; extend and release act
// only if the owner matches; waiters wait in a FIFO line kept on the server, and a
// release hands the lock to the head of the line in the same script, telling it on its
// own channel `PREFIX{NAME}:released:OWNER` (it also PUBLISHes on
// `PREFIX{NAME}:released`). Guarantees and assumptions: docs/semantics.md, "redis".
//
// Thread-safety: safe for concurrent use; calls from many threads are pipelined over a
// few connections.
#ifndef DLOCK_BACKENDS_REDIS_H_
#define DLOCK_BACKENDS_REDIS_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "dlock/backend.h"
#include "dlock/clock.h"
#include "dlock/export.h"
#include "dlock/status.h"
#include "dlock/uri.h"

namespace dlock {

struct DLOCK_API RedisOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string user;                     // ACL user; empty: the default user
  std::optional<std::string> password;  // AUTH when set; never logged
  int db = 0;
  bool tls = false;
  std::string cacert;  // TLS: trust this CA file instead of the system's
  std::string cert;    // TLS: client certificate and its key (both or neither)
  std::string key;
  bool insecure = false;  // TLS: do not verify the server (prints a warning)
  std::string prefix = "dlock:";
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};  // a reply later than this fails the call
  int pool_size = 2;                                // command connections
  // Durability: after each acquire, extend and release, WAIT until `wait_replicas`
  // replicas acknowledged its writes (0 to 16; 0: no WAIT), for at most `wait_timeout`
  // (below command_timeout). An acquire not acknowledged in time is released and fails
  // (kUnavailable), an extend fails (kUnavailable; the master has extended it), a release
  // is done either way. ?wait_replicas=N&wait_timeout=DURATION; not for redlock://.
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1000};
  std::shared_ptr<Clock> clock;  // null: SystemClock()
  // Left out of every lease's validity (dlock/lease.h); ?drift_factor=&drift_ms=. For
  // redlock://, the first instance's, as its prefix and clock.
  DriftMargin drift;
};

// From redis://[user[:password]@]host[:port][/db][?opt=...] or rediss://. Options:
// cacert, cert, key, insecure, prefix, timeout, connect_timeout, pool, wait_replicas,
// wait_timeout.
DLOCK_API Result<RedisOptions> RedisOptionsFromUri(const BackendUri& uri);

// Connects and PINGs once, so that an unreachable server, a wrong password or an
// untrusted certificate is reported here: kUnavailable or kFailedPrecondition.
DLOCK_API Result<std::shared_ptr<Backend>> MakeRedisBackend(const RedisOptions& options);

}  // namespace dlock

#endif  // DLOCK_BACKENDS_REDIS_H_
