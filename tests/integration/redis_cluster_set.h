// redis_cluster_set.h: a Redis Cluster for integration tests: six redis-server nodes in
// cluster mode (each with its own cluster bus port, a FreePort(), and a node timeout of
// 1 s, so that a failover takes 1 to 3 s), joined by `redis-cli --cluster create` as three
// masters with one replica each; optionally with a password, or over TLS only. All on loopback,
// stopped by PID; a missing redis-server or redis-cli fails the test. Every condition is awaited by
// asking the nodes (CLUSTER INFO, CLUSTER NODES, ROLE), never by sleeping; a node paused by Pause()
// is never asked (it would not answer).
//
// Nodes are named by their index in the order they were started (server(i)); which are
// masters is for the cluster to say (Masters(), Owner(), ReplicaOf()), and changes with
// failovers.
#ifndef DLOCK_TESTS_INTEGRATION_REDIS_CLUSTER_SET_H_
#define DLOCK_TESTS_INTEGRATION_REDIS_CLUSTER_SET_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "integration/redis_server.h"

namespace dlock::test {

// One line of CLUSTER NODES.
struct ClusterNodeLine {
  std::string id;
  std::uint16_t port = 0;
  std::string flags;      // "myself,master", "slave", "master,fail?", ...
  std::string master_id;  // "-" for a master
  std::int64_t config_epoch = -1;
  bool connected = false;                   // the link state
  std::vector<std::pair<int, int>> slots;   // inclusive ranges
  bool open_slots = false;                  // a [slot->-id] or [slot-<-id] entry
  bool Has(const std::string& flag) const;  // one of the comma-separated flags
  bool IsMaster() const { return Has("master"); }
};

// How the nodes talk to clients and to each other.
struct RedisClusterSetOptions {
  std::string password;           // --requirepass and --masterauth on every node
  const TlsFiles* tls = nullptr;  // TLS only: clients, the cluster bus and replication
};

class RedisClusterSet {
 public:
  static constexpr int kNodes = 6;
  static constexpr int kSlots = 16384;

  // Starts the nodes, creates the cluster and waits until it is healthy (AwaitHealthy).
  // Null after a test failure if it cannot.
  static std::unique_ptr<RedisClusterSet> Start(const RedisClusterSetOptions& options = {});

  // "redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3" (the first three nodes;
  // rediss+cluster:// with TLS) with `userinfo@` if given, + `suffix`.
  std::string Uri(const std::string& suffix = "", const std::string& userinfo = "") const;
  std::size_t size() const { return servers_.size(); }
  RedisServer& server(std::size_t i) { return *servers_[i]; }
  const std::string& NodeId(std::size_t i) const { return ids_[i]; }

  // redis-cli --raw on node i, its output in lines; empty for a paused node, or if it does
  // not answer within 10 s.
  std::vector<std::string> Cli(std::size_t i, const std::vector<std::string>& args) const;
  // CLUSTER NODES as node i sees it; empty if it does not answer (or is paused).
  std::vector<ClusterNodeLine> Nodes(std::size_t i) const;
  // The index of the node with this id, or -1.
  int IndexOf(const std::string& id) const;

  // The index of the master that owns `slot` according to every node not paused, if they
  // agree; -1 if they do not, or none answers.
  int Owner(int slot) const;
  // The owner of every slot, as Owner() (one CLUSTER NODES per node, not 16384).
  std::vector<int> Owners() const;
  // The masters that own slots, as every node not paused agrees; empty if they disagree.
  std::vector<int> Masters() const;
  // The index of the replica of master `master` (as every node not paused agrees), -1 if
  // none or they disagree.
  int ReplicaOf(int master) const;
  // Node i's configEpoch (its own line of CLUSTER NODES; a replica shows its master's);
  // -1 if it does not answer.
  std::int64_t ConfigEpoch(std::size_t i) const;
  // ROLE's first line on node i: "master", "slave", or "" if it does not answer.
  std::string Role(std::size_t i) const;
  // CLUSTER KEYSLOT on a node that answers; -1 if none does.
  int KeySlot(const std::string& key) const;

  void Pause(std::size_t i);   // SIGSTOP: the kernel still accepts connections
  void Resume(std::size_t i);  // SIGCONT
  bool paused(std::size_t i) const { return paused_[i]; }

  // Waits until every node answers CLUSTER INFO with cluster_state:ok, 6 known nodes and
  // all 16384 slots ok; every node's CLUSTER NODES lists the 6 nodes, none failing or in a
  // handshake, every link connected, the same 3 masters owning the same slots covering all
  // 16384, none open (migrating or importing), each master with one replica; and every
  // master answers ROLE as master, every replica as a connected slave. Resumes nothing:
  // a paused node fails it. false after a test failure at `limit`, naming what is wrong.
  bool AwaitHealthy(std::chrono::milliseconds limit = std::chrono::seconds(30));

  // CLUSTER FAILOVER on `replica`, then waits until it answers ROLE as master and every
  // node agrees that it owns the slots its master owned, and that the old master is its
  // replica. false after a test failure.
  bool Failover(std::size_t replica, std::chrono::milliseconds limit = std::chrono::seconds(20));
  // After Pause() of the master of `slot` (`old`): waits until the nodes not paused agree
  // that another node owns `slot`, which answers ROLE as master, and report
  // cluster_state:ok: the cluster itself promoted a replica. Its index, or -1 after a test
  // failure at `limit`.
  int AwaitPromotion(int old, int slot, std::chrono::milliseconds limit = std::chrono::seconds(20));
  // Waits until every node agrees that `slot` is owned by `owner`. false after a test
  // failure.
  bool AwaitOwner(int slot, int owner, std::chrono::milliseconds limit = std::chrono::seconds(20));

  // Slot migration, as redis-cli --cluster reshard does it, in three steps so that a test
  // can act between them: CLUSTER SETSLOT slot IMPORTING on master `to`, then MIGRATING
  // on the slot's owner; MIGRATE of the slot's keys (CLUSTER GETKEYSINSLOT, MIGRATE ...
  // KEYS) until the owner has none left; CLUSTER SETSLOT slot NODE `to` on `to`, the old
  // owner, then every other master, and waiting until every node agrees. Each false after
  // a test failure naming the refusal. MigrateKeys returns the number of keys moved, -1 on
  // failure.
  bool BeginMigration(int slot, int to);
  int MigrateKeys(int slot);
  bool FinishMigration(int slot, int to);
  // Whether `slot` is between BeginMigration and a FinishMigration that succeeded.
  bool migrating(int slot) const { return migrations_.count(slot) > 0; }

  // `redis-cli --cluster reshard` of `slots` slots from master `from` to master `to` (it
  // takes the source's lowest-numbered slots first, moving each with its keys as
  // BeginMigration, MigrateKeys and FinishMigration do). It refuses to start while the
  // nodes disagree on the slot map (a replica learns a move by gossip) or a slot is open,
  // so that is awaited first; and after it exits 0, until every node agrees on the new
  // map. false after a test failure (with redis-cli's last words).
  bool Reshard(int from, int to, int slots,
               std::chrono::milliseconds limit = std::chrono::seconds(60));

 private:
  RedisClusterSet() = default;

  std::vector<std::unique_ptr<RedisServer>> servers_;
  std::string cli_flags_;  // redis-cli's TLS and password flags
  bool tls_ = false;
  std::vector<std::string> ids_;
  std::vector<bool> paused_;
  std::map<int, std::pair<int, int>> migrations_;  // slot -> (from, to)
};

// Pause(i) for a scope: node i is resumed at its end if it is still paused, so that a test
// that fails half-way does not leave the shared cluster without it.
class ScopedPause {
 public:
  ScopedPause(RedisClusterSet& set, std::size_t i) : set_(set), i_(i) { set_.Pause(i_); }
  ~ScopedPause() {
    if (set_.paused(i_)) set_.Resume(i_);
  }
  ScopedPause(const ScopedPause&) = delete;
  ScopedPause& operator=(const ScopedPause&) = delete;

 private:
  RedisClusterSet& set_;
  const std::size_t i_;
};

// BeginMigration(slot, to) for a scope: a migration still open at its end (a test failed
// half-way) is completed (MigrateKeys, FinishMigration), so that the shared cluster has no
// open slot. ok() is BeginMigration's answer.
class ScopedMigration {
 public:
  ScopedMigration(RedisClusterSet& set, int slot, int to)
      : set_(set), slot_(slot), to_(to), ok_(set.BeginMigration(slot, to)) {}
  ~ScopedMigration() {
    if (set_.migrating(slot_) && set_.MigrateKeys(slot_) >= 0) set_.FinishMigration(slot_, to_);
  }
  ScopedMigration(const ScopedMigration&) = delete;
  ScopedMigration& operator=(const ScopedMigration&) = delete;
  bool ok() const { return ok_; }

 private:
  RedisClusterSet& set_;
  const int slot_, to_;
  const bool ok_;
};

}  // namespace dlock::test

#endif  // DLOCK_TESTS_INTEGRATION_REDIS_CLUSTER_SET_H_
