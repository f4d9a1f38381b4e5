#include "integration/redis_cluster_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>
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

// The value of `field` in CLUSTER INFO's field:value lines; "" if absent.
std::string InfoField(const std::vector<std::string>& lines, const std::string& field) {
  for (auto line : lines) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  }
  return "";
}

std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : " / ") + l;
  return out.empty() ? "no answer" : out;
}

bool IsOk(const std::vector<std::string>& reply) { return reply.size() == 1 && reply[0] == "OK"; }

}  // namespace

bool ClusterNodeLine::Has(const std::string& flag) const {
  std::istringstream in(flags);
  for (std::string f; std::getline(in, f, ',');) {
    if (f == flag) return true;
  }
  return false;
}

std::unique_ptr<RedisClusterSet> RedisClusterSet::Start(const RedisClusterSetOptions& options) {
  std::unique_ptr<RedisClusterSet> set(new RedisClusterSet());
  set->tls_ = options.tls != nullptr;
  if (options.tls) {
    set->cli_flags_ += " --tls --cacert '" + options.tls->ca_cert.string() + "'";
  }
  if (!options.password.empty()) {
    set->cli_flags_ += " --no-auth-warning -a '" + options.password + "'";
  }
  if (!RunQuiet("redis-cli --version")) {
    ADD_FAILURE() << "redis-cli is not installed (Debian: apt-get install redis-tools)";
    return nullptr;
  }
  std::set<std::uint16_t> taken;
  std::string create = "redis-cli" + set->cli_flags_ + " --cluster create";
  for (int i = 0; i < kNodes; ++i) {
    std::uint16_t bus = FreePort();
    while (taken.count(bus)) bus = FreePort();
    taken.insert(bus);
    std::vector<std::string> args = {"--cluster-enabled", "yes", "--cluster-config-file",
                                     "nodes.conf", "--cluster-port", std::to_string(bus),
                                     "--cluster-node-timeout", "1000",
                                     // A replica may always take over, however long ago it
                                     // last heard of its master.
                                     "--cluster-replica-validity-factor", "0",
                                     // The topology changes only when a test changes it.
                                     "--cluster-allow-replica-migration", "no",
                                     // Full syncs at once (7.0 waits 5 s by default).
                                     "--repl-diskless-sync-delay", "0"};
    if (!options.password.empty()) {
      args.insert(args.end(),
                  {"--requirepass", options.password, "--masterauth", options.password});
    }
    if (options.tls) args.insert(args.end(), {"--tls-cluster", "yes", "--tls-replication", "yes"});
    auto server = RedisServer::Start(args, options.tls);
    if (!server) return nullptr;
    taken.insert(server->port());
    create += " 127.0.0.1:" + std::to_string(server->port());
    set->servers_.push_back(std::move(server));
    set->paused_.push_back(false);
  }
  int code = -1;
  const std::string out = CommandOutput(create + " --cluster-replicas 1 --cluster-yes 2>&1", &code);
  if (code != 0 || out.find("All 16384 slots covered") == std::string::npos) {
    ADD_FAILURE() << "redis-cli --cluster create failed (" << code << "): " << out;
    return nullptr;
  }
  for (std::size_t i = 0; i < set->servers_.size(); ++i) {
    auto id = set->Cli(i, {"CLUSTER", "MYID"});
    if (id.size() != 1 || id[0].size() != 40) {
      ADD_FAILURE() << "CLUSTER MYID on node " << i << ": " << Joined(id);
      return nullptr;
    }
    set->ids_.push_back(id[0]);
  }
  if (!set->AwaitHealthy()) return nullptr;
  return set;
}

std::string RedisClusterSet::Uri(const std::string& suffix, const std::string& userinfo) const {
  std::string hosts = userinfo.empty() ? "" : userinfo + "@";
  for (std::size_t i = 0; i < 3 && i < servers_.size(); ++i) {
    hosts += (i == 0 ? "" : ",") + std::string("127.0.0.1:") + std::to_string(servers_[i]->port());
  }
  return (tls_ ? "rediss+cluster://" : "redis+cluster://") + hosts + suffix;
}

std::vector<std::string> RedisClusterSet::Cli(std::size_t i,
                                              const std::vector<std::string>& args) const {
  if (paused_[i]) return {};
  std::string cmd =
      "timeout 10 redis-cli" + cli_flags_ + " --raw -p " + std::to_string(servers_[i]->port());
  for (const auto& a : args) cmd += " '" + a + "'";
  std::vector<std::string> lines;
  std::istringstream in(CommandOutput(cmd + " 2>/dev/null"));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::vector<ClusterNodeLine> RedisClusterSet::Nodes(std::size_t i) const {
  std::vector<ClusterNodeLine> out;
  for (const auto& line : Cli(i, {"CLUSTER", "NODES"})) {
    // <id> <ip:port@cport> <flags> <master> <ping-sent> <pong-recv> <config-epoch>
    // <link-state> <slot> <slot> ...
    auto w = Words(line);
    if (w.size() < 8 || w[0].size() != 40) return {};  // not an answer we understand
    ClusterNodeLine n;
    n.id = w[0];
    const auto colon = w[1].rfind(':', w[1].find('@'));
    if (colon != std::string::npos) {
      try {
        n.port = static_cast<std::uint16_t>(std::stoi(w[1].substr(colon + 1)));
      } catch (...) {
      }
    }
    n.flags = w[2];
    n.master_id = w[3];
    try {
      n.config_epoch = std::stoll(w[6]);
    } catch (...) {
    }
    n.connected = w[7] == "connected";
    for (std::size_t k = 8; k < w.size(); ++k) {
      if (w[k].front() == '[') {
        n.open_slots = true;
        continue;
      }
      const auto dash = w[k].find('-');
      try {
        const int lo = std::stoi(w[k].substr(0, dash));
        const int hi = dash == std::string::npos ? lo : std::stoi(w[k].substr(dash + 1));
        n.slots.emplace_back(lo, hi);
      } catch (...) {
      }
    }
    out.push_back(std::move(n));
  }
  return out;
}

int RedisClusterSet::IndexOf(const std::string& id) const {
  for (std::size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] == id) return static_cast<int>(i);
  }
  return -1;
}

std::vector<int> RedisClusterSet::Owners() const {
  std::vector<int> agreed;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (paused_[i]) continue;
    auto nodes = Nodes(i);
    if (nodes.empty()) continue;
    std::vector<int> owners(kSlots, -1);
    for (const auto& n : nodes) {
      if (!n.IsMaster()) continue;
      for (const auto& [lo, hi] : n.slots) {
        for (int s = lo; s <= hi && s < kSlots; ++s) owners[s] = IndexOf(n.id);
      }
    }
    if (agreed.empty()) {
      agreed = std::move(owners);
    } else if (agreed != owners) {
      return std::vector<int>(kSlots, -1);
    }
  }
  if (agreed.empty()) agreed.assign(kSlots, -1);
  return agreed;
}

int RedisClusterSet::Owner(int slot) const { return Owners()[slot]; }

std::vector<int> RedisClusterSet::Masters() const {
  std::set<int> masters;
  for (int owner : Owners()) {
    if (owner < 0) return {};
    masters.insert(owner);
  }
  return {masters.begin(), masters.end()};
}

int RedisClusterSet::ReplicaOf(int master) const {
  int replica = -1;
  bool asked = false;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    auto nodes = Nodes(i);
    if (nodes.empty()) continue;
    int seen = -1;
    for (const auto& n : nodes) {
      if (n.Has("slave") && n.master_id == ids_[master]) seen = IndexOf(n.id);
    }
    if (asked && seen != replica) return -1;
    replica = seen;
    asked = true;
  }
  return replica;
}

std::int64_t RedisClusterSet::ConfigEpoch(std::size_t i) const {
  for (const auto& n : Nodes(i)) {
    if (n.Has("myself")) return n.config_epoch;
  }
  return -1;
}

std::string RedisClusterSet::Role(std::size_t i) const {
  auto role = Cli(i, {"ROLE"});
  return role.empty() ? "" : role[0];
}

int RedisClusterSet::KeySlot(const std::string& key) const {
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    auto slot = Cli(i, {"CLUSTER", "KEYSLOT", key});
    if (slot.size() != 1) continue;
    try {
      return std::stoi(slot[0]);
    } catch (...) {
    }
  }
  return -1;
}

void RedisClusterSet::Pause(std::size_t i) {
  servers_[i]->Pause();
  paused_[i] = true;
}

void RedisClusterSet::Resume(std::size_t i) {
  servers_[i]->Resume();
  paused_[i] = false;
}

bool RedisClusterSet::AwaitHealthy(std::chrono::milliseconds limit) {
  std::string why;
  auto healthy = [&] {
    std::string slot_map;  // the masters and their slots, as node 0 sees them
    for (std::size_t i = 0; i < servers_.size(); ++i) {
      const std::string node = "node " + std::to_string(i) + ": ";
      if (paused_[i]) return (why = node + "paused"), false;
      auto info = Cli(i, {"CLUSTER", "INFO"});
      if (InfoField(info, "cluster_state") != "ok")
        return (why = node + "cluster_state not ok"), false;
      if (InfoField(info, "cluster_known_nodes") != std::to_string(kNodes) ||
          InfoField(info, "cluster_slots_ok") != std::to_string(kSlots)) {
        return (why = node + "nodes unknown or slots not ok"), false;
      }
      auto nodes = Nodes(i);
      if (nodes.size() != static_cast<std::size_t>(kNodes)) {
        return (why = node + "CLUSTER NODES lists " + std::to_string(nodes.size())), false;
      }
      std::map<std::string, std::string> masters;  // id -> its slots
      std::map<std::string, int> replicas;         // master id -> replicas
      int covered = 0;
      for (const auto& n : nodes) {
        for (const char* bad : {"fail", "fail?", "handshake", "noaddr", "nofailover"}) {
          if (n.Has(bad)) return (why = node + "sees " + n.id + " " + n.flags), false;
        }
        if (!n.connected && !n.Has("myself")) {
          return (why = node + "link to " + n.id + " not connected"), false;
        }
        if (n.open_slots) return (why = node + "a slot is open on " + n.id), false;
        if (IndexOf(n.id) < 0) return (why = node + "unknown node " + n.id), false;
        if (n.IsMaster()) {
          std::string slots;
          for (const auto& [lo, hi] : n.slots) {
            slots += std::to_string(lo) + "-" + std::to_string(hi) + " ";
            covered += hi - lo + 1;
          }
          masters[n.id] = slots;
        } else {
          replicas[n.master_id]++;
        }
      }
      if (masters.size() != 3 || covered != kSlots) {
        return (why = node + std::to_string(masters.size()) + " masters covering " +
                      std::to_string(covered) + " slots"),
               false;
      }
      std::string map;
      for (const auto& [id, slots] : masters) {
        if (replicas[id] != 1)
          return (why = node + "master " + id + " has no single replica"), false;
        map += id + ": " + slots + "; ";
      }
      if (i == 0) {
        slot_map = map;
      } else if (map != slot_map) {
        return (why = node + "disagrees with node 0 on the masters and their slots"), false;
      }
      // What the node says of itself, by ROLE.
      auto role = Cli(i, {"ROLE"});
      const bool is_master = masters.count(ids_[i]) > 0;
      if (is_master && (role.empty() || role[0] != "master")) {
        return (why = node + "a master by CLUSTER NODES, ROLE " + Joined(role)), false;
      }
      if (!is_master && (role.size() < 4 || role[0] != "slave" || role[3] != "connected")) {
        return (why = node + "a replica not connected: ROLE " + Joined(role)), false;
      }
    }
    return true;
  };
  if (!Await(healthy, limit)) {
    ADD_FAILURE() << "the cluster did not become healthy: " << why;
    return false;
  }
  return true;
}

bool RedisClusterSet::Failover(std::size_t replica, std::chrono::milliseconds limit) {
  std::string old_id;
  for (const auto& n : Nodes(replica)) {
    if (n.Has("myself")) old_id = n.master_id;
  }
  const int old = IndexOf(old_id);
  if (old < 0) {
    ADD_FAILURE() << "node " << replica << " is not a replica";
    return false;
  }
  std::vector<int> slots;
  const auto owners = Owners();
  for (int s = 0; s < kSlots; ++s) {
    if (owners[s] == old) slots.push_back(s);
  }
  auto reply = Cli(replica, {"CLUSTER", "FAILOVER"});
  if (!IsOk(reply)) {
    ADD_FAILURE() << "CLUSTER FAILOVER on node " << replica << ": " << Joined(reply);
    return false;
  }
  auto done = [&] {
    if (Role(replica) != "master") return false;
    const auto now = Owners();
    for (int s : slots) {
      if (now[s] != static_cast<int>(replica)) return false;
    }
    return ReplicaOf(static_cast<int>(replica)) == old;
  };
  if (!Await(done, limit)) {
    ADD_FAILURE() << "node " << replica << " did not take over from node " << old;
    return false;
  }
  return true;
}

int RedisClusterSet::AwaitPromotion(int old, int slot, std::chrono::milliseconds limit) {
  int owner = -1;
  auto promoted = [&] {
    owner = Owner(slot);
    if (owner < 0 || owner == old || Role(owner) != "master") return false;
    for (std::size_t i = 0; i < servers_.size(); ++i) {
      if (!paused_[i] && InfoField(Cli(i, {"CLUSTER", "INFO"}), "cluster_state") != "ok") {
        return false;
      }
    }
    return true;
  };
  if (!Await(promoted, limit)) {
    ADD_FAILURE() << "the cluster did not promote a replica of node " << old;
    return -1;
  }
  return owner;
}

bool RedisClusterSet::AwaitOwner(int slot, int owner, std::chrono::milliseconds limit) {
  if (!Await([&] { return Owner(slot) == owner; }, limit)) {
    ADD_FAILURE() << "the nodes do not agree that node " << owner << " owns slot " << slot;
    return false;
  }
  return true;
}

bool RedisClusterSet::BeginMigration(int slot, int to) {
  const int from = Owner(slot);
  if (from < 0 || from == to) {
    ADD_FAILURE() << "slot " << slot << " has owner " << from << ", cannot move it to " << to;
    return false;
  }
  const std::string s = std::to_string(slot);
  auto importing = Cli(to, {"CLUSTER", "SETSLOT", s, "IMPORTING", ids_[from]});
  if (!IsOk(importing)) {
    ADD_FAILURE() << "SETSLOT IMPORTING on node " << to << ": " << Joined(importing);
    return false;
  }
  auto migrating = Cli(from, {"CLUSTER", "SETSLOT", s, "MIGRATING", ids_[to]});
  if (!IsOk(migrating)) {
    ADD_FAILURE() << "SETSLOT MIGRATING on node " << from << ": " << Joined(migrating);
    return false;
  }
  migrations_[slot] = {from, to};
  return true;
}

int RedisClusterSet::MigrateKeys(int slot) {
  auto it = migrations_.find(slot);
  if (it == migrations_.end()) {
    ADD_FAILURE() << "slot " << slot << " is not being migrated";
    return -1;
  }
  const auto [from, to] = it->second;
  int moved = 0;
  for (;;) {
    auto keys = Cli(from, {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "100"});
    if (keys.empty() || (keys.size() == 1 && keys[0].empty())) return moved;
    std::vector<std::string> migrate = {
        "MIGRATE", "127.0.0.1", std::to_string(servers_[to]->port()), "", "0", "5000", "KEYS"};
    migrate.insert(migrate.end(), keys.begin(), keys.end());
    auto reply = Cli(from, migrate);
    // NOKEY: they all expired in between.
    if (!IsOk(reply) && !(reply.size() == 1 && reply[0] == "NOKEY")) {
      ADD_FAILURE() << "MIGRATE of slot " << slot << " to node " << to << ": " << Joined(reply);
      return -1;
    }
    moved += static_cast<int>(keys.size());
  }
}

bool RedisClusterSet::FinishMigration(int slot, int to) {
  auto it = migrations_.find(slot);
  if (it == migrations_.end() || it->second.second != to) {
    ADD_FAILURE() << "slot " << slot << " is not being migrated to node " << to;
    return false;
  }
  const int from = it->second.first;
  std::vector<int> order = {to, from};
  for (int m : Masters()) {
    if (m != to && m != from) order.push_back(m);
  }
  for (int m : order) {
    auto reply = Cli(m, {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", ids_[to]});
    if (!IsOk(reply)) {
      ADD_FAILURE() << "SETSLOT NODE on node " << m << ": " << Joined(reply);
      return false;
    }
  }
  migrations_.erase(it);
  return AwaitOwner(slot, to);
}

bool RedisClusterSet::Reshard(int from, int to, int slots, std::chrono::milliseconds limit) {
  // Every node answers, none has an open slot, and all give every slot the same owner.
  auto agreed = [&] {
    for (std::size_t i = 0; i < servers_.size(); ++i) {
      auto nodes = Nodes(i);
      if (nodes.empty()) return false;
      for (const auto& n : nodes) {
        if (n.open_slots) return false;
      }
    }
    auto owners = Owners();
    return std::count(owners.begin(), owners.end(), -1) == 0;
  };
  const auto give_up = std::chrono::steady_clock::now() + limit;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(
                        give_up - std::chrono::steady_clock::now()));
  };
  if (!Await(agreed, left())) {
    ADD_FAILURE() << "before a reshard of node " << from << " to node " << to
                  << ": the nodes do not agree on the slot map, or a slot is open";
    return false;
  }
  int code = -1;
  const std::string out = CommandOutput(
      "timeout " + std::to_string(std::max<std::int64_t>(1, left().count() / 1000)) + " redis-cli" +
          cli_flags_ + " --cluster reshard 127.0.0.1:" + std::to_string(servers_[from]->port()) +
          " --cluster-from " + ids_[from] + " --cluster-to " + ids_[to] + " --cluster-slots " +
          std::to_string(slots) + " --cluster-yes 2>&1",
      &code);
  if (code != 0) {
    ADD_FAILURE() << "redis-cli --cluster reshard of " << slots << " slots from node " << from
                  << " to node " << to << " exited " << code << ": "
                  << out.substr(out.size() > 3000 ? out.size() - 3000 : 0);
    return false;
  }
  if (!Await(agreed, left())) {
    ADD_FAILURE() << "after a reshard of node " << from << " to node " << to
                  << ": the nodes do not agree on the slot map, or a slot is open";
    return false;
  }
  return true;
}

}  // namespace dlock::test
