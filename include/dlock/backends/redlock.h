// backends/redlock.h: the Redlock algorithm over N independent Redis servers
// (`redlock://host:port,host:port,...`), with strictly increasing fencing tokens.
//
// Every call goes to all instances at once. A lock is granted when a majority
// (N/2 + 1) took it within its validity; then a second round raises the fencing counter
// to T = max(round-1 tokens) on the instances that still hold it for us, and needs a
// majority again. Any later holder's majority meets that majority in at least one
// instance, whose counter then gives it more than T. The second round is skipped when
// every won instance's counter is T already (it would change nothing), which is the
// usual case: counters stay equal while every acquire wins every instance. Guarantees
// and assumptions:
// docs/semantics.md, "redlock".
//
// Thread-safety: safe for concurrent use.
#ifndef DLOCK_BACKENDS_REDLOCK_H_
#define DLOCK_BACKENDS_REDLOCK_H_

#include <chrono>
#include <memory>
#include <vector>

#include "dlock/backend.h"
#include "dlock/backends/redis.h"
#include "dlock/export.h"
#include "dlock/status.h"
#include "dlock/uri.h"

namespace dlock {

struct DLOCK_API RedlockOptions {
  // One entry per independent Redis server; prefix and clock come from the first.
  std::vector<RedisOptions> instances;
  // How long a call waits for slow instances. 0: TTL/20 for acquire and extend, within
  // [10ms, the instances' command_timeout].
  std::chrono::milliseconds instance_timeout{0};
  // The second round that makes fencing tokens strictly increasing. Turn it off only if
  // tokens do not matter to you: it costs one more round trip per acquire when the
  // instances' counters for the lock differ (after an instance missed an acquire).
  bool strict_fencing = true;
};

// From redlock://[user[:password]@]h1:p1,h2:p2,...[/db][?opt=...]. Options as redis://
// (prefix, timeout, connect_timeout, pool), plus tls=true with cacert, cert, key,
// insecure, instance_timeout, and fencing=strict|off.
DLOCK_API Result<RedlockOptions> RedlockOptionsFromUri(const BackendUri& uri);

// Connects to every instance at once; kUnavailable unless a majority answers PING,
// kFailedPrecondition if one refuses us (password, TLS trust).
DLOCK_API Result<std::shared_ptr<Backend>> MakeRedlockBackend(const RedlockOptions& options);

}  // namespace dlock

#endif  // DLOCK_BACKENDS_REDLOCK_H_
