// tls_bridge.h: TLS for the ZooKeeper C client, inside this process. Debian's C client
// (libzookeeper-mt 3.8) is built without OpenSSL (no zookeeper_init_ssl) and takes no
// socket of ours, so dlock gives it plain loopback addresses and carries what it sends
// over TLS itself: for each host of the connect string, a listener on 127.0.0.1 (an
// ephemeral port); each connection accepted there is joined to a new TLS connection to
// that host.
//
// The TLS side: TLS 1.2 or later; the server's certificate verified against the CA file
// (or the system's CAs), and its name or IP address against the host as written; the
// client certificate and key when given. Connections to a listener from any other process
// are closed at once, without a byte read or sent (local_peer.h), so the listener cannot
// be used to borrow our client certificate. A connection that fails (TCP, the handshake,
// or the server ending it before it sent anything) is reported to the watchers
// (WatchFailures) as one line naming the host and OpenSSL's reason, and the loopback
// connection is closed: the C client then tries the next host, as after a lost connection.
//
// Thread-safety: safe for concurrent use. One I/O thread per bridge, stopped (and every
// connection closed) by the destructor: destroy it only after every C client handle that
// uses it is closed (Session keeps it alive for that).
#ifndef DLOCK_SRC_ZOOKEEPER_TLS_BRIDGE_H_
#define DLOCK_SRC_ZOOKEEPER_TLS_BRIDGE_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "dlock/backends/zookeeper.h"
#include "dlock/status.h"

namespace dlock::zk {

class TlsBridge {
 public:
  // The bridge for `options.hosts` (host:port, comma-separated; [v6]:port) with its TLS
  // files. kInvalidArgument if a file cannot be loaded (or the key is not the cert's) or a
  // host cannot be parsed; kUnavailable if it cannot listen on 127.0.0.1.
  static Result<std::shared_ptr<TlsBridge>> Start(const ZooKeeperOptions& options);
  ~TlsBridge();
  TlsBridge(const TlsBridge&) = delete;
  TlsBridge& operator=(const TlsBridge&) = delete;

  // "127.0.0.1:P1,127.0.0.1:P2,...": the connect string for the C client, one listener
  // per host of options.hosts, in that order.
  const std::string& local_hosts() const;
  std::size_t host_count() const;

  // Calls `on_failure(host_index, status, refused)` after each failed connection
  // (`status`: kUnavailable, one line) until the returned handle is destroyed (which
  // waits for a call under way). `refused`: TLS itself failed (the handshake, or the
  // server ending the connection before it answered), which trying again will not
  // change; false for a TCP connection that could not be made in time. Called on the
  // bridge's thread; it must be quick and must not call the bridge.
  using FailureCallback = std::function<void(std::size_t, const Status&, bool)>;
  std::shared_ptr<void> WatchFailures(FailureCallback on_failure);

  // Connections refused because they came from another process (for tests).
  std::size_t refused() const;

  struct Impl;  // in tls_bridge.cc

 private:
  explicit TlsBridge(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dlock::zk

#endif  // DLOCK_SRC_ZOOKEEPER_TLS_BRIDGE_H_
