// backends/zookeeper.h: Apache ZooKeeper (`zk://host:port[,host:port...][/path]`).
//
// The recipe of Curator's InterProcessMutex, and compatible with it: the lock `N` is the
// znode `PATH/N`; each contender creates an ephemeral sequential child named
// `_c_<uuid>-lock-<seq>` (the uuid is derived from the owner id, so our node can be
// found again after a lost reply); the contender with the lowest sequence holds the
// lock; a waiter watches only the node just before its own. kazoo's `__lock__` (and
// `__rlock__`) children count as contenders too. The fencing token is the holder node's
// czxid. Leases live in a ZooKeeper session whose timeout is the lease's TTL (clamped by
// the server's min/maxSessionTimeout; the lease says the TTL granted): see
// Backend::session_bound(). Guarantees and assumptions: docs/semantics.md,
// "zk".
//
// TLS (`?tls=true`): Debian's ZooKeeper C client (3.8) is built without OpenSSL, so it
// cannot speak TLS itself. dlock then runs a TLS bridge inside the process: a listener
// on 127.0.0.1 (an ephemeral port) per host, which the C client connects to, each
// connection carried over TLS to the real host. The bridge accepts only connections
// from this process. See docs/semantics.md, "zk", for what it checks and its limits.
//
// Thread-safety: safe for concurrent use. One session (with the client library's two
// threads) per distinct TTL in use, shared by all locks with that TTL; with TLS, one more
// thread for the bridge.
#ifndef DLOCK_BACKENDS_ZOOKEEPER_H_
#define DLOCK_BACKENDS_ZOOKEEPER_H_

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

struct DLOCK_API ZooKeeperOptions {
  std::string hosts = "127.0.0.1:2181";  // "host:port,host:port", as the C client takes it
  std::string root = "/";                // parent of every lock znode; created if missing
  std::string user;                      // digest auth when set; nodes we create are then
  std::optional<std::string> password;   // ALL for this user, READ for anyone
  // The session Inspect, ForceRelease and unqueued waits use, and the first one opened.
  std::chrono::milliseconds session_timeout{30000};
  std::chrono::milliseconds connect_timeout{5000};  // to establish a session
  std::shared_ptr<Clock> clock;                     // null: SystemClock()
  // Left out of every lease's validity (dlock/lease.h); ?drift_factor=&drift_ms=.
  DriftMargin drift;
  // TLS to every host (?tls=true), TLS 1.2 or later. The server's certificate must chain
  // to `cacert` (a PEM file; empty: the system's trusted CAs) and name the host as it is
  // written in `hosts` (a DNS name or an IP address); there is no way to turn that off.
  bool tls = false;
  std::string cacert;
  std::string cert;  // PEM client certificate (chain) and its key, both or neither
  std::string key;
};

// From zk://[user:password@]host[:port][,host[:port]...][/path][?opt=...]. Options:
// connect_timeout, session_timeout, tls=true|false, and with tls=true: cacert, cert, key
// (readable files; cert and key together). kInvalidArgument otherwise.
DLOCK_API Result<ZooKeeperOptions> ZooKeeperOptionsFromUri(const BackendUri& uri);

// Opens the first session, so that an unreachable ensemble is reported here:
// kUnavailable (a failed TLS connection too: one line naming the host and OpenSSL's
// reason). kInvalidArgument if the TLS files cannot be loaded.
DLOCK_API Result<std::shared_ptr<Backend>> MakeZooKeeperBackend(const ZooKeeperOptions& options);

}  // namespace dlock

#endif  // DLOCK_BACKENDS_ZOOKEEPER_H_
