// nodes.h: reading and watching znodes through the C client, as Results, and the data
// our lock nodes carry (who holds, since when, for how long).
#ifndef DLOCK_ZOOKEEPER_NODES_H_
#define DLOCK_ZOOKEEPER_NODES_H_

#include <zookeeper/zookeeper.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "dlock/lease.h"
#include "dlock/status.h"
#include "zookeeper/session.h"

namespace dlock::zk {

// The children of `path`; empty if it does not exist.
Result<std::vector<std::string>> GetChildren(const Session& session, const std::string& path);

struct NodeContent {
  std::string data;
  Stat stat{};
};

// The data and stat of `path`; kNotHeld-free: ZNONODE comes back as std::nullopt.
Result<std::optional<NodeContent>> GetNode(const Session& session, const std::string& path);

// The children of `path`, with `watch` set on them (it fires when one comes or goes);
// std::nullopt, and no watch, if `path` does not exist.
Result<std::optional<std::vector<std::string>>> WatchChildren(const Session& session,
                                                              const std::string& path,
                                                              Watch& watch);

// Sets `watch` on `path`, which fires when the node changes or goes; false, and no watch,
// if it is gone already. (getData, not exists: exists on a node already gone would leave
// a creation watch.)
Result<bool> WatchNode(const Session& session, const std::string& path, Watch& watch);

// What our nodes hold: the holder's host, pid and "since", and the TTL, as JSON.
std::string NodeData(const HolderInfo& holder, std::chrono::milliseconds ttl);

// Fills what our node data says (other clients' data is not ours to read: left empty).
void ParseNodeData(const std::string& data, LockState& state);

// The token a release recorded in the lock znode (0 if none).
FencingToken ParseToken(const std::string& text);

}  // namespace dlock::zk

#endif  // DLOCK_ZOOKEEPER_NODES_H_
