// zookeeper_backend.h: the zk:// backend's class (private to dlock::zookeeper; the public
// face is dlock/backends/zookeeper.h). Curator's lock recipe (ephemeral sequential
// children, the lowest holds, each waiter watches its predecessor) over the ZooKeeper C
// client. Its members are defined in zookeeper_backend.cc (the Backend and
// QueueingBackend calls, and the sessions) and own_nodes.cc (our nodes: creating,
// finding, checking and deleting them).
//
// Thread-safety: as Backend's; every member may be called from any thread.
#ifndef DLOCK_ZOOKEEPER_ZOOKEEPER_BACKEND_H_
#define DLOCK_ZOOKEEPER_ZOOKEEPER_BACKEND_H_

#include <zookeeper/zookeeper.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/line_backend.h"
#include "core/owner_map.h"
#include "dlock/backend.h"
#include "dlock/backends/zookeeper.h"
#include "dlock/queueing_backend.h"
#include "zookeeper/acl.h"
#include "zookeeper/session.h"

namespace dlock::zk {

class ZooKeeperBackend final : public internal::LineBackend {
 public:
  explicit ZooKeeperBackend(ZooKeeperOptions options);

  // Starts the TLS bridge (?tls=true) and opens the default session, so that an
  // unreachable ensemble is reported at once. Called once, before any other call.
  Status Connect();

  Result<Lease> TryAcquire(const AcquireRequest& request) override;
  Result<Lease> Extend(const Lease& lease, std::chrono::milliseconds ttl) override;
  Status Release(const Lease& lease) override;
  Status ForceRelease(std::string_view name) override;
  Result<LockState> Inspect(std::string_view name) override;
  Status LeaveQueue(std::string_view name, std::string_view owner_id) override;

  bool session_bound() const override { return true; }
  std::string_view kind() const override { return "zk"; }
  DriftMargin drift() const override { return options_.drift; }

 private:
  // Our node for one owner id: queued or holding.
  struct Entry {
    std::string lock_path;
    std::string node;
    std::shared_ptr<Session> session;
    FencingToken token = 0;  // the node's czxid
    bool granted = false;
    bool queued = false;
    bool foreign = false;  // the node is another session's (a force release, `--owner`)
    std::string Path() const { return lock_path + "/" + node; }
  };

  // Where our node stands among the lock's contenders.
  struct Place {
    std::string holder;      // the first contender's node
    std::ptrdiff_t ahead{};  // how many contenders come before ours; 0: we hold the lock
  };

  // --- TryAcquire's steps (zookeeper_backend.cc) ---

  // The owner's entry if it is in `session`; one in another session is dropped (and its
  // node deleted, unless that session ended and took it along).
  std::optional<Entry> EntryIn(const std::shared_ptr<Session>& session,
                               const std::string& owner_id);
  // `entry` proven alive, or else a node found or created for `request`. std::nullopt if
  // `entry`'s node was deleted under us (force-released while queued): try again.
  Result<std::optional<Entry>> ProveOrCreate(std::optional<Entry> entry,
                                             const std::shared_ptr<Session>& session,
                                             const std::string& lock_path,
                                             const AcquireRequest& request);
  // Our node's place among the contenders under `lock_path`; std::nullopt if it is not
  // there (deleted between the proof and the listing).
  Result<std::optional<Place>> PlaceInLine(const Entry& entry, const std::string& lock_path);
  // The kContended answer of a request whose node is not first: it keeps its place if it
  // queues, else its node is deleted.
  Status NotFirst(const AcquireRequest& request, Entry& entry, const Place& place);
  // Our node is first: the lock is ours, valid from `start` (when we proved the session).
  Result<Lease> Grant(const AcquireRequest& request, Entry& entry,
                      std::chrono::steady_clock::time_point start);
  // A waiter's node says when it joined the line; now it says when it got the lock.
  void AnnounceGrant(const AcquireRequest& request, const Entry& entry);

  // --- Waiting (zookeeper_backend.cc) ---

  // LineBackend's wait: WaitForRelease and WaitForTurn.
  Status Wait(std::string_view name, std::chrono::steady_clock::time_point deadline,
              std::stop_token stop, std::string_view waiter) override;
  // Sets `watch` on the node just before `entry`'s under `lock_path` (no herd when it
  // goes); false if there is nothing to wait for (ours is first, or gone).
  Result<bool> WatchPredecessor(const Entry& entry, const std::string& lock_path, Watch& watch);
  // Sets `watch` on the contenders under `lock_path`; false if there are none.
  Result<bool> WatchContenders(const std::string& lock_path, Watch& watch);

  // --- Sessions (zookeeper_backend.cc) ---

  // The session for leases of `ttl` (its timeout), opened if there is none alive.
  Result<std::shared_ptr<Session>> SessionFor(std::chrono::milliseconds ttl);
  // The session of options_.session_timeout: for Inspect, ForceRelease, unqueued waits.
  Result<std::shared_ptr<Session>> DefaultSession();

  // --- Our nodes (own_nodes.cc) ---

  // The session we use for `entry` has ended: our node went with it (not held), unless
  // the node is another session's, which may still hold it (unavailable: try again).
  static Status SessionEnded(const Entry& entry, std::string_view name);
  // Creates our ephemeral sequential node, and the lock's parents if missing. After a
  // lost reply, looks for the node by its uuid before creating another.
  Result<Entry> FindOrCreateNode(const std::shared_ptr<Session>& session,
                                 const std::string& lock_path, const AcquireRequest& request);
  Result<Entry> CreateNode(const std::shared_ptr<Session>& session, const std::string& lock_path,
                           const AcquireRequest& request);
  // Creates `path` and whatever of its parents is missing.
  Status CreateParents(const Session& session, const std::string& path);
  // The node `owner_id` created under `lock_path`, found by its uuid, with its czxid.
  Result<std::optional<Entry>> FindByOwner(const std::string& lock_path,
                                           const std::string& owner_id,
                                           std::shared_ptr<Session> session = nullptr);
  // OK if `entry`'s handle may take a multi (see own_nodes.cc).
  Status ReadyForMulti(const Entry& entry, std::string_view name);
  // Deletes `entry`'s node; a holder's release also records its token in the lock znode.
  Status Delete(const Entry& entry, std::string_view name);
  // Whether our node still exists, asked through the leader.
  Status CheckNode(const Entry& entry);
  // Deletes `entry`'s node now, or later if ZooKeeper cannot be reached.
  void DeleteOrKeep(const Entry& entry);
  void KeepOrphan(const Entry& entry);
  // Retries the deletes that failed (from a caller's thread, never ZooKeeper's).
  void SweepOrphans();
  bool Uncertain(const std::string& owner_id);
  void ForgetUncertain(const std::string& owner_id);
  // Gives up a fresh attempt: deletes our node unless the caller keeps its place.
  Status Abandon(const AcquireRequest& request, const Entry& entry, Status why);

  const ZooKeeperOptions options_;
  const NodeAcl acl_;
  std::shared_ptr<TlsBridge> bridge_;  // with TLS; set by Connect, constant after

  std::mutex sessions_mu_;
  std::map<std::chrono::milliseconds, std::shared_ptr<Session>> sessions_;
  std::set<std::chrono::milliseconds> warned_;

  internal::OwnerMap<Entry> owners_;  // owner id -> our node
  std::mutex mu_;                     // guards the two below
  std::vector<Entry> orphans_;        // nodes to delete once ZooKeeper answers
  std::set<std::string> uncertain_;   // owners whose create may have happened unseen
};

}  // namespace dlock::zk

#endif  // DLOCK_ZOOKEEPER_ZOOKEEPER_BACKEND_H_
