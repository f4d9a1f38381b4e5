// redis_sentinel_set.h: Redis as Sentinel runs it, for integration tests: a master and two
// replicas (`replicaof`), and three sentinels (`redis-server sentinel.conf --sentinel`,
// each with its own config file, which it rewrites) that monitor them with quorum 2 and
// short timeouts, so that a failover takes 1 to 3 s. All on free loopback ports, stopped
// by PID; a missing redis-server fails the test. The conditions are awaited by asking the
// servers (ROLE, INFO replication, SENTINEL ...), never by sleeping.
#ifndef DLOCK_TESTS_INTEGRATION_REDIS_SENTINEL_SET_H_
#define DLOCK_TESTS_INTEGRATION_REDIS_SENTINEL_SET_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "integration/redis_server.h"

namespace dlock::test {

// redis-cli against 127.0.0.1:`port` (a sentinel or a server); its output split in lines.
std::vector<std::string> RedisCliLines(std::uint16_t port, const std::vector<std::string>& args);

// Starts a sentinel on `port` with its config under `dir` (it rewrites it), monitoring
// `name` at 127.0.0.1:`master_port` with `quorum`, down after 1 s, failover timeout 2 s,
// and the config lines `extra`. Its pid, or -1 after a test failure.
pid_t StartSentinel(const std::filesystem::path& dir, std::uint16_t port, const std::string& name,
                    std::uint16_t master_port, int quorum, const std::string& extra = "");

class RedisSentinelSet {
 public:
  static constexpr const char* kName = "dlockmaster";

  // Starts the set and waits until it is healthy (AwaitHealthy). Null after a test
  // failure if it cannot.
  static std::unique_ptr<RedisSentinelSet> Start();
  ~RedisSentinelSet();

  // "redis+sentinel://127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3/dlockmaster" + `suffix`.
  std::string Uri(const std::string& suffix = "") const;
  std::size_t size() const { return servers_.size(); }
  RedisServer& server(std::size_t i) { return *servers_[i]; }
  std::uint16_t sentinel_port(std::size_t i) const { return sentinel_ports_[i]; }
  void PauseSentinel(std::size_t i);   // SIGSTOP
  void ResumeSentinel(std::size_t i);  // SIGCONT

  // The index of the server that sentinel `s` names as master (GET-MASTER-ADDR-BY-NAME),
  // -1 if it does not answer or names none of ours.
  int NamedBy(std::size_t s) const;
  // The server that every sentinel not paused names, if they agree; else -1.
  int Agreed() const;
  // Sentinel `s`'s config-epoch of the master (SENTINEL MASTER); -1 if it does not answer.
  std::int64_t ConfigEpoch(std::size_t s) const;
  // Waits until every sentinel that is not paused names the same server, which answers
  // ROLE as master with the other two online as its replicas; every sentinel knows both
  // replicas (not down) and the two other sentinels, and none is in a failover. Returns
  // the master's index, or -1 after a test failure at `limit`.
  int AwaitHealthy(std::chrono::milliseconds limit = std::chrono::seconds(30));
  // Waits until the sentinels that are not paused all name a server other than `old`
  // that answers ROLE as master, and none is in a failover; its index, or -1 after a test
  // failure at `limit`.
  int AwaitNewMaster(int old, std::chrono::milliseconds limit = std::chrono::seconds(20));
  // SENTINEL FAILOVER through sentinel `s`; false (with a test failure) if it refuses.
  bool Failover(std::size_t s = 0);
  // ROLE's first line on server i: "master", "slave", or "" if it does not answer.
  std::string Role(std::size_t i) const;

 private:
  RedisSentinelSet() = default;

  std::vector<std::unique_ptr<RedisServer>> servers_;
  std::vector<std::uint16_t> sentinel_ports_;
  std::vector<pid_t> sentinel_pids_;
  std::vector<bool> paused_;
  std::filesystem::path dir_;
};

}  // namespace dlock::test

#endif  // DLOCK_TESTS_INTEGRATION_REDIS_SENTINEL_SET_H_
