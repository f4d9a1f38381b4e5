// backends/etcd.h: etcd v3 (`etcd://host:port[,host:port...]`), over its gRPC API.
//
// The protocol of etcd's concurrency.Mutex, and so of `etcdctl lock NAME`: each
// acquisition grants a lease with the TTL and puts the key `PREFIX NAME/<lease id in hex>`
// on it, in a transaction that creates the key only if absent; the key with the lowest
// create revision under `NAME/` holds the lock; a waiter watches the deletion of the key
// created just before its own. The fencing token is the create revision of our key.
// Extend is a keep-alive of the lease, sent on one LeaseKeepAlive stream per backend;
// release deletes the key and revokes the lease. Guarantees and assumptions:
// docs/semantics.md, "etcd".
//
// Thread-safety: safe for concurrent use; all calls share one gRPC channel.
#ifndef DLOCK_BACKENDS_ETCD_H_
#define DLOCK_BACKENDS_ETCD_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dlock/backend.h"
#include "dlock/clock.h"
#include "dlock/export.h"
#include "dlock/status.h"
#include "dlock/uri.h"

namespace dlock {

struct DLOCK_API EtcdOptions {
  std::vector<std::string> endpoints = {"127.0.0.1:2379"};  // host:port
  std::string user;                                         // etcd auth when set
  std::optional<std::string> password;                      // never logged
  bool tls = false;                                         // ?tls=true
  std::string cacert;  // TLS: trust this CA file instead of the system's
  std::string cert;    // TLS: client certificate and its key (both or neither)
  std::string key;
  std::string prefix;  // prepended to every lock name ("" like etcdctl lock)
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds timeout{5000};  // one call; a later answer fails it
  std::shared_ptr<Clock> clock;             // null: SystemClock()
  // Left out of every lease's validity (dlock/lease.h); ?drift_factor=&drift_ms=.
  DriftMargin drift;
};

// From etcd://[user:password@]host[:port][,host[:port]...][?opt=...]. Options: tls,
// cacert, cert, key, prefix, timeout, connect_timeout. Default port 2379.
DLOCK_API Result<EtcdOptions> EtcdOptionsFromUri(const BackendUri& uri);

// Connects (and authenticates) once, so that an unreachable cluster or wrong credentials
// are reported here: kUnavailable or kFailedPrecondition.
DLOCK_API Result<std::shared_ptr<Backend>> MakeEtcdBackend(const EtcdOptions& options);

}  // namespace dlock

#endif  // DLOCK_BACKENDS_ETCD_H_
