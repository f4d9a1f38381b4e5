#include "integration/redis_sentinel_set.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "integration/server_process.h"
#include "test_util.h"

namespace dlock::test {
namespace {

// Polls `pred` every 50 ms (each poll runs redis-cli) until it holds or `limit` passes.
bool Await(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  return WaitFor(pred, limit, std::chrono::milliseconds(50));
}

// The value of `field` in redis-cli's field/value lines; "" if absent.
std::string Field(const std::vector<std::string>& lines, const std::string& field) {
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
    if (lines[i] == field) return lines[i + 1];
  }
  return "";
}

}  // namespace

std::vector<std::string> RedisCliLines(std::uint16_t port, const std::vector<std::string>& args) {
  std::string cmd = "redis-cli --raw -p " + std::to_string(port);
  for (const auto& a : args) cmd += " '" + a + "'";
  std::vector<std::string> lines;
  std::istringstream in(CommandOutput(cmd + " 2>/dev/null"));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::unique_ptr<RedisSentinelSet> RedisSentinelSet::Start() {
  std::unique_ptr<RedisSentinelSet> set(new RedisSentinelSet());
  std::string pattern = (std::filesystem::temp_directory_path() / "dlock-sentinel-XXXXXX").string();
  set->dir_ = ::mkdtemp(pattern.data());
  // Full syncs at once (7.0 waits 5 s for more replicas by default).
  const std::vector<std::string> fast = {"--repl-diskless-sync-delay", "0"};
  auto master = RedisServer::Start(fast);
  if (!master) return nullptr;
  const std::uint16_t master_port = master->port();
  set->servers_.push_back(std::move(master));
  for (int i = 0; i < 2; ++i) {
    auto args = fast;
    args.insert(args.end(), {"--replicaof", "127.0.0.1", std::to_string(master_port)});
    auto replica = RedisServer::Start(args);
    if (!replica) return nullptr;
    set->servers_.push_back(std::move(replica));
  }
  // The sentinels learn the replicas from the master's INFO: start them once both are in.
  if (!Await(
          [&] {
            auto info = RedisCliLines(master_port, {"INFO", "replication"});
            int online = 0;
            for (const auto& l : info) online += l.find("state=online") != std::string::npos;
            return online == 2;
          },
          std::chrono::seconds(20))) {
    ADD_FAILURE() << "the replicas did not come online";
    return nullptr;
  }
  for (std::size_t i = 0; i < 3; ++i) {
    const std::uint16_t port = FreePort();
    pid_t pid =
        StartSentinel(set->dir_ / ("sentinel" + std::to_string(i)), port, kName, master_port, 2);
    if (pid <= 0) return nullptr;
    set->sentinel_ports_.push_back(port);
    set->sentinel_pids_.push_back(pid);
    set->paused_.push_back(false);
  }
  if (set->AwaitHealthy() < 0) return nullptr;
  return set;
}

pid_t StartSentinel(const std::filesystem::path& dir, std::uint16_t port, const std::string& name,
                    std::uint16_t master_port, int quorum, const std::string& extra) {
  std::filesystem::create_directories(dir);
  const auto conf = dir / "sentinel.conf";
  {
    std::ofstream out(conf);
    out << "port " << port << "\nbind 127.0.0.1\ndir " << dir.string() << "\nlogfile "
        << (dir / "sentinel.log").string() << "\nsentinel monitor " << name << " 127.0.0.1 "
        << master_port << " " << quorum << "\nsentinel down-after-milliseconds " << name
        << " 1000\nsentinel failover-timeout " << name << " 2000\nsentinel parallel-syncs " << name
        << " 2\n"
        << extra;
  }
  pid_t pid = SpawnServer(
      {"redis-server", conf.string(), "--sentinel"}, (dir / "sentinel.out").string(),
      [&] { return PortAccepts(port); }, "redis-server (redis-sentinel)");
  return pid > 0 ? pid : -1;
}

RedisSentinelSet::~RedisSentinelSet() {
  for (auto& pid : sentinel_pids_) KillServer(pid);
  servers_.clear();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string RedisSentinelSet::Uri(const std::string& suffix) const {
  std::string hosts;
  for (auto port : sentinel_ports_) {
    hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(port);
  }
  return "redis+sentinel://" + hosts + "/" + kName + suffix;
}

void RedisSentinelSet::PauseSentinel(std::size_t i) {
  ::kill(sentinel_pids_[i], SIGSTOP);
  paused_[i] = true;
}

void RedisSentinelSet::ResumeSentinel(std::size_t i) {
  ::kill(sentinel_pids_[i], SIGCONT);
  paused_[i] = false;
}

int RedisSentinelSet::NamedBy(std::size_t s) const {
  auto addr = RedisCliLines(sentinel_ports_[s], {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", kName});
  if (addr.size() != 2) return -1;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (addr[1] == std::to_string(servers_[i]->port())) return static_cast<int>(i);
  }
  return -1;
}

std::int64_t RedisSentinelSet::ConfigEpoch(std::size_t s) const {
  auto epoch =
      Field(RedisCliLines(sentinel_ports_[s], {"SENTINEL", "MASTER", kName}), "config-epoch");
  return epoch.empty() ? -1 : std::stoll(epoch);
}

std::string RedisSentinelSet::Role(std::size_t i) const {
  auto role = RedisCliLines(servers_[i]->port(), {"ROLE"});
  return role.empty() ? "" : role[0];
}

int RedisSentinelSet::Agreed() const {
  int master = -1;
  for (std::size_t s = 0; s < sentinel_ports_.size(); ++s) {
    if (paused_[s]) continue;
    int named = NamedBy(s);
    if (named < 0 || (master >= 0 && named != master)) return -1;
    master = named;
  }
  return master;
}

int RedisSentinelSet::AwaitHealthy(std::chrono::milliseconds limit) {
  int master = -1;
  std::string why;
  auto healthy = [&] {
    master = Agreed();
    if (master < 0) return (why = "the sentinels disagree"), false;
    for (std::size_t s = 0; s < sentinel_ports_.size(); ++s) {
      if (paused_[s]) continue;
      auto m = RedisCliLines(sentinel_ports_[s], {"SENTINEL", "MASTER", kName});
      if (Field(m, "flags") != "master") return (why = "master flags " + Field(m, "flags")), false;
      if (Field(m, "num-other-sentinels") != "2") return (why = "sentinels unknown"), false;
      auto replicas = RedisCliLines(sentinel_ports_[s], {"SENTINEL", "REPLICAS", kName});
      int good = 0;
      for (std::size_t i = 0; i + 1 < replicas.size(); ++i) {
        good += replicas[i] == "flags" && replicas[i + 1] == "slave";
      }
      if (good != 2) return (why = "replicas not known or down to a sentinel"), false;
    }
    if (Role(master) != "master") return (why = "no master"), false;
    auto info = RedisCliLines(servers_[master]->port(), {"INFO", "replication"});
    int online = 0;
    for (const auto& l : info) online += l.find("state=online") != std::string::npos;
    return online == 2 || ((why = "replicas not online"), false);
  };
  if (!Await(healthy, limit)) {
    ADD_FAILURE() << "the sentinel set did not become healthy: " << why;
    return -1;
  }
  return master;
}

int RedisSentinelSet::AwaitNewMaster(int old, std::chrono::milliseconds limit) {
  int master = -1;
  auto switched = [&] {
    master = Agreed();
    if (master < 0 || master == old) return false;
    for (std::size_t s = 0; s < sentinel_ports_.size(); ++s) {
      auto flags = Field(RedisCliLines(sentinel_ports_[s], {"SENTINEL", "MASTER", kName}), "flags");
      if (!paused_[s] && flags.find("failover_in_progress") != std::string::npos) return false;
    }
    return Role(master) == "master";
  };
  if (!Await(switched, limit)) {
    ADD_FAILURE() << "the sentinels did not name a new master";
    return -1;
  }
  return master;
}

bool RedisSentinelSet::Failover(std::size_t s) {
  auto reply = RedisCliLines(sentinel_ports_[s], {"SENTINEL", "FAILOVER", kName});
  bool ok = reply.size() == 1 && reply[0] == "OK";
  if (!ok) ADD_FAILURE() << "SENTINEL FAILOVER: " << (reply.empty() ? "no answer" : reply[0]);
  return ok;
}

}  // namespace dlock::test
