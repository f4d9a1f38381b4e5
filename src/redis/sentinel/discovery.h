// discovery.h: finding the master of a redis+sentinel:// backend: asking the sentinels
// (SENTINEL MASTER) and checking the server they name (ROLE).
//
// Thread-safety: the functions may be called from any thread; each blocks for the round
// trips it makes.
#ifndef DLOCK_SRC_REDIS_SENTINEL_DISCOVERY_H_
#define DLOCK_SRC_REDIS_SENTINEL_DISCOVERY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dlock/status.h"
#include "redis/client/client.h"

namespace dlock::redis {

// A master as one sentinel names it: its address and its config-epoch, from one answer.
struct MasterAddress {
  std::string host;
  std::uint16_t port = 0;
  std::uint32_t epoch = 0;  // Sentinel's config-epoch of the master: raised by each failover
  bool operator==(const MasterAddress&) const = default;
};

// What `sentinel` says of the master `name` (SENTINEL MASTER): address and config-epoch
// from the same reply. kUnavailable if it cannot be reached, or while it runs a failover
// of that master (its address and epoch may then belong to two servers);
// kFailedPrecondition if it knows no master of that name or refuses us (auth); also if
// the epoch does not fit in a token's 24 bits.
Result<MasterAddress> AskSentinel(Client& sentinel, const std::string& name);

// A master found, with a client connected to it.
struct FoundMaster {
  MasterAddress address;
  std::unique_ptr<Client> client;
  std::size_t sentinel = 0;  // the index of the sentinel that named it
};

// Makes a client for the server at `address` (not yet connected).
using ConnectMaster = std::function<Result<std::unique_ptr<Client>>(const MasterAddress&)>;

// Asks `sentinels` in turn, from index `first` on, until one names a server that answers
// ROLE as master (CheckMaster), and again after 100 ms while some sentinel answered but
// its master could not be used (a replica, a failover in progress), until `deadline`.
// Otherwise one line naming every sentinel tried and why each failed: kUnavailable, or
// kFailedPrecondition if every failure was one (auth, no master of that name).
Result<FoundMaster> FindMaster(const std::vector<Client*>& sentinels, std::size_t first,
                               const std::string& name, const ConnectMaster& connect,
                               std::chrono::steady_clock::time_point deadline);

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_SENTINEL_DISCOVERY_H_
