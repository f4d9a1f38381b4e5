// slot_map.h: a Redis Cluster's masters and which of them owns each hash slot, as one
// node's CLUSTER NODES answer says: addresses, slots and configEpochs from one answer.
//
// Thread-safety: a pure function; a SlotMap is a value.
#ifndef DLOCK_SRC_REDIS_CLUSTER_SLOT_MAP_H_
#define DLOCK_SRC_REDIS_CLUSTER_SLOT_MAP_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/status.h"

namespace dlock::redis {

inline constexpr int kClusterSlots = 16384;

struct ClusterMaster {
  std::string id;
  std::string host;
  std::uint16_t port = 0;
  std::uint64_t epoch = 0;  // its configEpoch: raised by every failover and slot take-over
  bool operator==(const ClusterMaster&) const = default;
};

struct SlotMap {
  std::vector<ClusterMaster> masters;
  // owner[slot]: an index into masters, or -1 for a slot no master serves.
  std::array<std::int16_t, kClusterSlots> owner{};
  std::size_t unserved = 0;  // how many slots have none
};

// Parses CLUSTER NODES text (one node per line: id, ip:port@cport[,hostname], flags,
// master id, ping, pong, configEpoch, link state, slots...) as the node at `answered_by`
// (host) sees the cluster. Masters flagged fail, handshake or noaddr serve nothing; when two
// masters claim a slot, the higher configEpoch owns it (as Redis decides). A node without an
// address (":0", itself before it knows its own) gets `answered_by`. kUnavailable, naming
// the line, for text that is not CLUSTER NODES.
Result<SlotMap> ParseClusterNodes(std::string_view text, std::string_view answered_by);

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_CLUSTER_SLOT_MAP_H_
