// hosts.h: the hosts of a ZooKeeper connect string ("host:port,[v6]:port,..." as
// ZooKeeperOptions::hosts has them), and whether one accepts TCP connections (to tell a
// server that does not answer the ZooKeeper handshake from no server at all).
//
// Thread-safety: free functions with no state; any thread.
#ifndef DLOCK_SRC_ZOOKEEPER_HOSTS_H_
#define DLOCK_SRC_ZOOKEEPER_HOSTS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "dlock/status.h"

namespace dlock::zk {

struct HostPort {
  std::string host;  // a DNS name or an IP address, without brackets
  std::uint16_t port = 0;
  std::string ToString() const;  // host:port, [v6]:port
};

// Each host:port of `hosts`; kInvalidArgument for an empty list, a missing or bad port.
Result<std::vector<HostPort>> ParseHosts(const std::string& hosts);

// Whether a TCP connection to `hp` is accepted within `timeout` (closed at once).
bool AcceptsConnections(const HostPort& hp, std::chrono::milliseconds timeout);

}  // namespace dlock::zk

#endif  // DLOCK_SRC_ZOOKEEPER_HOSTS_H_
