// The zk:// backend's own nodes: creating them (and the lock's parents), finding them
// again after a lost reply, proving them alive through the leader, and deleting them, at
// once or, when ZooKeeper cannot be reached, at a later call.
#include <fmt/format.h>

#include <array>
#include <utility>

#include "zookeeper/nodes.h"
#include "zookeeper/recipe.h"
#include "zookeeper/zookeeper_backend.h"

namespace dlock::zk {

// The session we use for `entry` has ended: our node went with it (not held), unless
// the node is another session's, which may still hold it (unavailable: try again).
Status ZooKeeperBackend::SessionEnded(const Entry& entry, std::string_view name) {
  if (entry.foreign) {
    return UnavailableError(
        fmt::format("lock '{}': the ZooKeeper session releasing it ended; try again", name));
  }
  return NotHeldError(fmt::format("lock '{}': its ZooKeeper session expired", name));
}

// Creates our ephemeral sequential node, and the lock's parents if missing. After a
// lost reply, looks for the node by its uuid before creating another.
Result<ZooKeeperBackend::Entry> ZooKeeperBackend::FindOrCreateNode(
    const std::shared_ptr<Session>& session, const std::string& lock_path,
    const AcquireRequest& request) {
  if (Uncertain(request.owner_id)) {
    // An earlier create of this owner may have happened with its answer lost.
    auto found = FindByOwner(lock_path, request.owner_id, session);
    if (!found.ok()) return found.status();
    ForgetUncertain(request.owner_id);
    if (*found) return std::move(**found);
  }
  auto created = CreateNode(session, lock_path, request);
  if (!created.ok() && created.status().code() == Code::kUnavailable) {
    std::lock_guard lock(mu_);
    uncertain_.insert(request.owner_id);
  }
  return created;
}

Result<ZooKeeperBackend::Entry> ZooKeeperBackend::CreateNode(
    const std::shared_ptr<Session>& session, const std::string& lock_path,
    const AcquireRequest& request) {
  const std::string prefix = lock_path + "/" + NodePrefix(request.owner_id);
  const std::string data = NodeData(request.holder, session->timeout());
  std::string created(prefix.size() + 32, '\0');
  for (int attempt = 0; attempt < 4; ++attempt) {
    Stat stat{};
    int rc = zoo_create2(session->handle(), prefix.c_str(), data.data(),
                         static_cast<int>(data.size()), acl_.acl(), ZOO_EPHEMERAL_SEQUENTIAL,
                         created.data(), static_cast<int>(created.size()), &stat);
    if (rc == ZOK) {
      std::string path(created.c_str());
      return Entry{lock_path, path.substr(lock_path.size() + 1), session,
                   static_cast<FencingToken>(stat.czxid)};
    }
    if (rc == ZNONODE) {
      DLOCK_RETURN_IF_ERROR(CreateParents(*session, lock_path));
      continue;
    }
    if (rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT) {
      return ZkError(rc, "creating a node under " + lock_path);
    }
    // The create may have happened with its reply lost.
    if (!session->WaitConnected(std::chrono::steady_clock::now() + options_.connect_timeout)) {
      return ZkError(rc, "creating a node under " + lock_path);
    }
    auto found = FindByOwner(lock_path, request.owner_id, session);
    if (!found.ok()) return found.status();
    if (*found) return std::move(**found);
  }
  return UnavailableError(fmt::format("ZooKeeper: could not create a node under {}", lock_path));
}

// Creates `path` and whatever of its parents is missing: the deepest first, since a new
// lock name usually lives under parents that exist (one round trip, not one per level).
Status ZooKeeperBackend::CreateParents(const Session& session, const std::string& path) {
  int rc = zoo_create(session.handle(), path.c_str(), nullptr, -1, acl_.acl(), ZOO_PERSISTENT,
                      nullptr, 0);
  if (rc == ZNONODE) {
    auto slash = path.rfind('/');
    if (slash == 0 || slash == std::string::npos) return ZkError(rc, "creating " + path);
    DLOCK_RETURN_IF_ERROR(CreateParents(session, path.substr(0, slash)));
    rc = zoo_create(session.handle(), path.c_str(), nullptr, -1, acl_.acl(), ZOO_PERSISTENT,
                    nullptr, 0);
  }
  if (rc != ZOK && rc != ZNODEEXISTS) return ZkError(rc, "creating " + path);
  return OkStatus();
}

// The node `owner_id` created under `lock_path`, found by its uuid, with its czxid.
Result<std::optional<ZooKeeperBackend::Entry>> ZooKeeperBackend::FindByOwner(
    const std::string& lock_path, const std::string& owner_id, std::shared_ptr<Session> session) {
  if (!session) {
    auto s = DefaultSession();
    if (!s.ok()) return s.status();
    session = *s;
  }
  auto children = GetChildren(*session, lock_path);
  if (!children.ok()) return children.status();
  auto own = FindOwnNode(*children, owner_id);
  if (!own) return std::optional<Entry>();
  Entry entry{lock_path, *own, session};
  auto node = GetNode(*session, entry.Path());
  if (!node.ok()) return node.status();
  if (!*node) return std::optional<Entry>();
  entry.token = static_cast<FencingToken>((*node)->stat.czxid);
  entry.foreign = (*node)->stat.ephemeralOwner != session->id();
  auto contenders = SortContenders(*children);
  entry.granted = !contenders.empty() && contenders.front().node == *own;
  return std::optional<Entry>(std::move(entry));
}

// The C client (3.8) frees a pointer it never set when a multi's first op cannot be
// queued because the handle turned unrecoverable (session expired): a paused `dlock
// run` crashed so, releasing after its session expired. So a multi goes only to a
// connected handle, which can turn unrecoverable only through a disconnection and a
// reconnection handshake on the client's I/O thread, not within the few instructions
// before the call (short of this thread being descheduled through both network steps).
// Disconnected, a single-op read waits for the reconnection as any call would. Then as
// SessionEnded if the session ended; kUnavailable if ZooKeeper cannot be reached.
// (CheckNode's multi has one op and is safe: with no chroot in the handle, the path it
// frees is the one it set. A second op there, or a chroot, would bring the fault back.)
Status ZooKeeperBackend::ReadyForMulti(const Entry& entry, std::string_view name) {
  zhandle_t* zh = entry.session->handle();
  if (zoo_state(zh) != ZOO_CONNECTED_STATE) {
    Stat stat{};
    int rc = zoo_exists(zh, entry.lock_path.c_str(), 0, &stat);
    if (entry.session->dead()) return SessionEnded(entry, name);
    if (rc != ZOK && rc != ZNONODE) return ZkError(rc, "reconnecting to release " + entry.Path());
    if (zoo_state(zh) != ZOO_CONNECTED_STATE) {
      return UnavailableError(fmt::format("releasing lock '{}': ZooKeeper disconnected", name));
    }
  }
  return OkStatus();
}

// Deletes `entry`'s node; a holder's release also records its token in the lock znode,
// in the same transaction, for Inspect's "last token issued".
Status ZooKeeperBackend::Delete(const Entry& entry, std::string_view name) {
  const std::string path = entry.Path();
  int rc;
  if (entry.granted) {
    DLOCK_RETURN_IF_ERROR(ReadyForMulti(entry, name));
    std::string token = std::to_string(entry.token);
    std::array<zoo_op_t, 2> ops{};
    std::array<zoo_op_result_t, 2> results{};
    Stat stat{};
    zoo_delete_op_init(&ops[0], path.c_str(), -1);
    zoo_set_op_init(&ops[1], entry.lock_path.c_str(), token.data(), static_cast<int>(token.size()),
                    -1, &stat);
    rc = zoo_multi(entry.session->handle(), 2, ops.data(), results.data());
  } else {
    rc = zoo_delete(entry.session->handle(), path.c_str(), -1);
  }
  if (rc == ZNONODE) {
    return NotHeldError(fmt::format("lock '{}' is not held by this owner", name));
  }
  if (rc != ZOK) return ZkError(rc, "deleting " + path);
  if (!entry.granted) {
    return NotHeldError(fmt::format("lock '{}' was waited for, not held", name));
  }
  return OkStatus();
}

// Whether our node still exists, asked through the leader (a multi with one check op is
// a write request, so the leader validates our session). kNotHeld if the node or the
// session is gone; kUnavailable if we cannot tell.
Status ZooKeeperBackend::CheckNode(const Entry& entry) {
  if (entry.session->dead()) return NotHeldError("its ZooKeeper session expired");
  const std::string path = entry.Path();
  zoo_op_t op{};
  zoo_op_result_t result{};
  zoo_check_op_init(&op, path.c_str(), -1);
  int rc = zoo_multi(entry.session->handle(), 1, &op, &result);
  if (rc == ZOK) return OkStatus();
  if (rc == ZNONODE) {
    return NotHeldError(fmt::format("our node {} is gone (force-released?)", entry.node));
  }
  if (rc == ZSESSIONEXPIRED || is_unrecoverable(entry.session->handle()) == ZINVALIDSTATE) {
    return NotHeldError("its ZooKeeper session expired");
  }
  return ZkError(rc, "checking " + path);
}

// Deletes `entry`'s node now, or later if ZooKeeper cannot be reached: a node left in
// a live session would hold up the line until this process exits.
void ZooKeeperBackend::DeleteOrKeep(const Entry& entry) {
  int rc = zoo_delete(entry.session->handle(), entry.Path().c_str(), -1);
  if (rc != ZOK && rc != ZNONODE && !entry.session->dead()) KeepOrphan(entry);
}

void ZooKeeperBackend::KeepOrphan(const Entry& entry) {
  std::lock_guard lock(mu_);
  orphans_.push_back(entry);
}

// Retries the deletes that failed (from a caller's thread, never ZooKeeper's).
void ZooKeeperBackend::SweepOrphans() {
  std::vector<Entry> orphans;
  {
    std::lock_guard lock(mu_);
    orphans.swap(orphans_);
  }
  for (const auto& entry : orphans) DeleteOrKeep(entry);
}

bool ZooKeeperBackend::Uncertain(const std::string& owner_id) {
  std::lock_guard lock(mu_);
  return uncertain_.contains(owner_id);
}

void ZooKeeperBackend::ForgetUncertain(const std::string& owner_id) {
  std::lock_guard lock(mu_);
  uncertain_.erase(owner_id);
}

// Gives up a fresh attempt: deletes our node unless the caller keeps its place.
Status ZooKeeperBackend::Abandon(const AcquireRequest& request, const Entry& entry, Status why) {
  if (!entry.queued) {
    owners_.Take(request.owner_id);
    DeleteOrKeep(entry);
  }
  return why;
}

}  // namespace dlock::zk
