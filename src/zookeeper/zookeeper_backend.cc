// The zk:// backend: Curator's lock recipe (ephemeral sequential children, the lowest
// holds, each waiter watches its predecessor) over the ZooKeeper C client.
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "core/lease_rules.h"
#include "core/owner_map.h"
#include "dlock/backends/zookeeper.h"
#include "dlock/duration.h"
#include "dlock/queueing_backend.h"
#include "zookeeper/recipe.h"
#include "zookeeper/session.h"

namespace dlock {
namespace {

using std::chrono::milliseconds;
using zk::Session;
using zk::ZkError;

// The children of `path`; empty if it does not exist.
Result<std::vector<std::string>> GetChildren(const Session& session, const std::string& path) {
  String_vector children{};
  int rc = zoo_get_children(session.handle(), path.c_str(), 0, &children);
  if (rc == ZNONODE) return std::vector<std::string>{};
  if (rc != ZOK) return ZkError(rc, "listing " + path);
  std::vector<std::string> out(children.data, children.data + children.count);
  deallocate_String_vector(&children);
  return out;
}

struct NodeContent {
  std::string data;
  Stat stat{};
};

// The data and stat of `path`; kNotHeld-free: ZNONODE comes back as std::nullopt.
Result<std::optional<NodeContent>> GetNode(const Session& session, const std::string& path) {
  NodeContent node;
  node.data.resize(4096);
  int len = static_cast<int>(node.data.size());
  int rc = zoo_get(session.handle(), path.c_str(), 0, node.data.data(), &len, &node.stat);
  if (rc == ZNONODE) return std::optional<NodeContent>();
  if (rc != ZOK) return ZkError(rc, "reading " + path);
  node.data.resize(len > 0 ? static_cast<std::size_t>(len) : 0);
  return std::optional<NodeContent>(std::move(node));
}

std::string NodeData(const HolderInfo& holder, milliseconds ttl) {
  auto since = std::chrono::duration_cast<milliseconds>(holder.since.time_since_epoch()).count();
  return nlohmann::json{
      {"host", holder.host}, {"pid", holder.pid}, {"since", since}, {"ttl_ms", ttl.count()}}
      .dump();
}

// Fills what our node data says (other clients' data is not ours to read: left empty).
void ParseNodeData(const std::string& data, LockState& state) {
  auto j = nlohmann::json::parse(data, nullptr, false);
  if (!j.is_object()) return;
  if (auto it = j.find("host"); it != j.end() && it->is_string()) state.holder.host = *it;
  if (auto it = j.find("pid"); it != j.end() && it->is_number_integer()) state.holder.pid = *it;
  if (auto it = j.find("since"); it != j.end() && it->is_number_integer()) {
    state.holder.since = internal::WallClockFromMs(it->get<int64_t>());
  }
  if (auto it = j.find("ttl_ms"); it != j.end() && it->is_number_integer()) {
    state.remaining = milliseconds(it->get<int64_t>());
  }
}

FencingToken ParseToken(const std::string& text) {
  FencingToken token = 0;
  std::from_chars(text.data(), text.data() + text.size(), token);
  return token;
}

class ZooKeeperBackend final : public Backend, public QueueingBackend {
 public:
  explicit ZooKeeperBackend(ZooKeeperOptions options) : options_(std::move(options)) {
    if (options_.password) digest_ = options_.user + ":" + *options_.password;
    if (!digest_.empty()) {
      acl_entries_ = {ACL{ZOO_PERM_ALL, ZOO_AUTH_IDS}, ACL{ZOO_PERM_READ, ZOO_ANYONE_ID_UNSAFE}};
      acl_ = {static_cast<int32_t>(acl_entries_.size()), acl_entries_.data()};
    } else {
      acl_ = ZOO_OPEN_ACL_UNSAFE;
    }
  }

  Status Connect() { return SessionFor(options_.session_timeout).status(); }

  Result<Lease> TryAcquire(const AcquireRequest& request) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateAcquireRequest(request));
    auto lock_path = zk::LockPath(options_.root, request.name);
    if (!lock_path.ok()) return lock_path.status();
    auto session = SessionFor(request.ttl);
    if (!session.ok()) return session.status();

    SweepOrphans();
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::optional<Entry> entry = owners_.Find(request.owner_id);
      if (entry && entry->session != *session) {
        // Queued in another session: gone with it if it ended, else ours to remove.
        owners_.Take(request.owner_id);
        if (!entry->session->dead()) DeleteOrKeep(*entry);
        entry.reset();
      }
      // Proof that the session is alive, through the leader: the create, or a check of
      // our node (a read could be answered by a follower that lost the leader).
      auto start = options_.clock->Now();
      if (entry) {
        Status alive = CheckNode(*entry);
        if (alive.code() == Code::kNotHeld) {
          owners_.Take(request.owner_id);  // deleted under us (force-released while queued): again
          continue;
        }
        if (!alive.ok()) return alive;
      } else {
        auto created = FindOrCreateNode(*session, *lock_path, request);
        if (!created.ok()) return created.status();
        entry = std::move(*created);
      }
      auto children = GetChildren(**session, *lock_path);
      if (!children.ok()) return Abandon(request, *entry, children.status());
      auto contenders = zk::SortContenders(*children);
      auto ours = std::find_if(contenders.begin(), contenders.end(),
                               [&](const zk::Contender& c) { return c.node == entry->node; });
      if (ours == contenders.end()) {  // deleted between the proof and the listing
        owners_.Take(request.owner_id);
        continue;
      }
      if (ours != contenders.begin()) {
        Status contended =
            ContendedError(fmt::format("lock '{}' is held by {} ({} ahead of us)", request.name,
                                       contenders.front().node, ours - contenders.begin()));
        if (!request.queue) return Abandon(request, *entry, contended);
        entry->queued = true;
        owners_.Store(request.owner_id, *entry);
        return contended;
      }
      if (entry->queued) {
        // Waited in line: the node's "since" is when we joined; say when we got it.
        HolderInfo holder = request.holder;
        holder.since = std::chrono::system_clock::now();
        std::string data = NodeData(holder, entry->session->timeout());
        // Display only, so not waited for (a write is a round trip through the leader's
        // log): the request is queued on the session, ahead of our release, and a failure
        // is harmless. The client copies the data before this returns.
        zoo_aset(
            entry->session->handle(), entry->Path().c_str(), data.data(),
            static_cast<int>(data.size()), -1, [](int, const Stat*, const void*) {}, nullptr);
      }
      entry->granted = true;
      owners_.Store(request.owner_id, *entry);
      const milliseconds ttl = entry->session->timeout();
      Lease lease{request.name, request.owner_id, entry->token, ttl, ValidUntil(start, ttl)};
      if (options_.clock->Now() >= lease.valid_until) {
        Release(lease).IgnoreError();
        return UnavailableError("ZooKeeper answered after the lease's validity ended");
      }
      return lease;
    }
    return ContendedError(
        fmt::format("lock '{}': our node keeps being deleted (force-released?)", request.name));
  }

  Result<Lease> Extend(const Lease& lease, milliseconds ttl) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    DLOCK_RETURN_IF_ERROR(ValidateTtl(ttl));
    auto entry = owners_.Find(lease.owner_id);
    if (!entry || !entry->granted) {
      return NotHeldError(fmt::format(
          "lock '{}' is not held by this owner in this process's ZooKeeper session", lease.name));
    }
    if (entry->session->dead()) {
      owners_.Take(lease.owner_id);
      return NotHeldError(
          fmt::format("lock '{}' was lost: its ZooKeeper session expired", lease.name));
    }
    // A write-path check of our node proves the session alive (through the leader) when
    // we asked; the server then keeps it for at least its timeout from there.
    const auto start = options_.clock->Now();
    Status alive = CheckNode(*entry);
    if (alive.code() == Code::kNotHeld) {
      owners_.Take(lease.owner_id);
      return NotHeldError(fmt::format("lock '{}' was lost: {}", lease.name, alive.message()));
    }
    if (!alive.ok()) return alive;
    const milliseconds granted = entry->session->timeout();
    return Lease{lease.name, lease.owner_id, entry->token, granted, ValidUntil(start, granted)};
  }

  Status Release(const Lease& lease) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    auto lock_path = zk::LockPath(options_.root, lease.name);
    if (!lock_path.ok()) return lock_path.status();
    std::optional<Entry> entry = owners_.Take(lease.owner_id);
    if (!entry) {
      // Not ours in this process: another process's node (`dlock release --owner`).
      auto found = FindByOwner(*lock_path, lease.owner_id);
      if (!found.ok()) return found.status();
      entry = std::move(*found);
    }
    if (!entry) return NotHeldError(fmt::format("lock '{}' is not held by this owner", lease.name));
    if (entry->session->dead()) return SessionEnded(*entry, lease.name);
    Status deleted = Delete(*entry, lease.name);
    if (deleted.code() == Code::kUnavailable) KeepOrphan(*entry);
    return deleted;
  }

  Status ForceRelease(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    auto lock_path = zk::LockPath(options_.root, name);
    if (!lock_path.ok()) return lock_path.status();
    auto session = DefaultSession();
    if (!session.ok()) return session.status();
    auto children = GetChildren(**session, *lock_path);
    if (!children.ok()) return children.status();
    auto contenders = zk::SortContenders(*children);
    if (contenders.empty()) return NotHeldError(fmt::format("lock '{}' is not held", name));
    Entry holder{*lock_path, contenders.front().node, *session};
    auto node = GetNode(**session, holder.Path());
    if (!node.ok()) return node.status();
    if (!*node) return NotHeldError(fmt::format("lock '{}' is not held", name));
    holder.token = static_cast<FencingToken>((*node)->stat.czxid);
    holder.granted = true;
    holder.foreign = (*node)->stat.ephemeralOwner != (*session)->id();
    owners_.EraseIf([&](const Entry& e) { return e.Path() == holder.Path(); });
    return Delete(holder, name);
  }

  Result<LockState> Inspect(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    auto lock_path = zk::LockPath(options_.root, name);
    if (!lock_path.ok()) return lock_path.status();
    auto session = DefaultSession();
    if (!session.ok()) return session.status();
    for (int attempt = 0; attempt < 5; ++attempt) {
      LockState state;
      state.name = std::string(name);
      auto parent = GetNode(**session, *lock_path);
      if (!parent.ok()) return parent.status();
      if (!*parent) return state;  // never used
      auto children = GetChildren(**session, *lock_path);
      if (!children.ok()) return children.status();
      auto contenders = zk::SortContenders(*children);
      if (contenders.empty()) {
        state.token = ParseToken((*parent)->data);  // the last token released by dlock
        state.waiters = 0;
        return state;
      }
      auto holder = GetNode(**session, *lock_path + "/" + contenders.front().node);
      if (!holder.ok()) return holder.status();
      if (!*holder) continue;  // released while we looked: look again
      state.held = true;
      state.token = static_cast<FencingToken>((*holder)->stat.czxid);
      state.waiters = static_cast<int>(contenders.size()) - 1;
      ParseNodeData((*holder)->data, state);
      return state;
    }
    return UnavailableError(fmt::format("lock '{}' changed too fast to inspect", name));
  }

  Status WaitForRelease(std::string_view name, std::chrono::steady_clock::time_point deadline,
                        std::stop_token stop) override {
    return Wait(name, deadline, std::move(stop), {});
  }

  // QueueingBackend: as WaitForRelease, as the request's waiter in line.
  Result<std::optional<Lease>> WaitForTurn(const AcquireRequest& request,
                                           std::chrono::steady_clock::time_point deadline,
                                           std::stop_token stop) override {
    DLOCK_RETURN_IF_ERROR(Wait(request.name, deadline, std::move(stop),
                               request.queue ? std::string_view(request.owner_id) : ""));
    return std::optional<Lease>();
  }

  // Until the lock may be free; for a queued `waiter` (not empty), until it is free and
  // the waiter heads the line, or the line changed.
  Status Wait(std::string_view name, std::chrono::steady_clock::time_point deadline,
              std::stop_token stop, std::string_view waiter) {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    auto lock_path = zk::LockPath(options_.root, name);
    if (!lock_path.ok()) return lock_path.status();
    if (stop.stop_requested()) return CancelledError("cancelled while waiting");
    if (std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceededError("the lock was not released in time");
    }
    zk::Watch watch;
    std::optional<Entry> entry;
    if (!waiter.empty()) entry = owners_.Find(std::string(waiter));
    if (entry && !entry->session->dead()) {
      // In line: watch only the node just before ours (no herd when it goes).
      auto children = GetChildren(*entry->session, *lock_path);
      if (!children.ok()) return children.status();
      auto contenders = zk::SortContenders(*children);
      auto ours = std::find_if(contenders.begin(), contenders.end(),
                               [&](const zk::Contender& c) { return c.node == entry->node; });
      if (ours == contenders.end() || ours == contenders.begin()) return OkStatus();
      std::string before = *lock_path + "/" + std::prev(ours)->node;
      // getData, not exists: exists on a node already gone would leave a creation watch.
      std::array<char, 1> ignored{};
      int len = static_cast<int>(ignored.size());
      Stat stat{};
      int rc = zoo_wget(entry->session->handle(), before.c_str(), &zk::Watch::Callback,
                        watch.context(), ignored.data(), &len, &stat);
      if (rc == ZNONODE) return OkStatus();
      if (rc != ZOK) return ZkError(rc, "watching " + before);
    } else {
      auto session = DefaultSession();
      if (!session.ok()) return session.status();
      String_vector children{};
      int rc = zoo_wget_children((*session)->handle(), lock_path->c_str(), &zk::Watch::Callback,
                                 watch.context(), &children);
      if (rc == ZNONODE) return OkStatus();
      if (rc != ZOK) return ZkError(rc, "watching " + *lock_path);
      std::vector<std::string> names(children.data, children.data + children.count);
      deallocate_String_vector(&children);
      if (zk::SortContenders(names).empty()) return OkStatus();
    }
    return watch.Wait(deadline, stop);
  }

  Status LeaveQueue(std::string_view name, std::string_view owner_id) override {
    std::optional<Entry> entry = owners_.Take(std::string(owner_id));
    if (!entry && Uncertain(std::string(owner_id))) {
      // A create whose answer was lost may have made a node: find it to delete it.
      auto lock_path = zk::LockPath(options_.root, name);
      if (!lock_path.ok()) return lock_path.status();
      auto found = FindByOwner(*lock_path, std::string(owner_id));
      if (found.ok() && *found) entry = std::move(**found);
      if (found.ok()) ForgetUncertain(std::string(owner_id));
    }
    if (!entry) return OkStatus();
    if (entry->granted) {  // holding, not waiting: that is Release's business
      owners_.Store(std::string(owner_id), *entry);
      return OkStatus();
    }
    DeleteOrKeep(*entry);
    return OkStatus();
  }

  bool session_bound() const override { return true; }
  QueueingBackend* queueing() override { return this; }
  std::string_view kind() const override { return "zk"; }

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

  // The session we use for `entry` has ended: our node went with it (not held), unless
  // the node is another session's, which may still hold it (unavailable: try again).
  static Status SessionEnded(const Entry& entry, std::string_view name) {
    if (entry.foreign) {
      return UnavailableError(
          fmt::format("lock '{}': the ZooKeeper session releasing it ended; try again", name));
    }
    return NotHeldError(fmt::format("lock '{}': its ZooKeeper session expired", name));
  }

  Result<std::shared_ptr<Session>> SessionFor(milliseconds ttl) {
    std::lock_guard lock(sessions_mu_);
    auto& session = sessions_[ttl];
    if (session && !session->dead()) return session;
    zk::SessionConfig config{options_.hosts, ttl, digest_, options_.connect_timeout};
    auto opened = Session::Open(config);
    if (!opened.ok()) return opened.status();
    if ((*opened)->timeout() != ttl && warned_.insert(ttl).second) {
      std::fputs(fmt::format("dlock: warning: ZooKeeper granted a session timeout (the lock's "
                             "TTL) of {}ms instead of {}ms (the server's min/maxSessionTimeout)\n",
                             (*opened)->timeout().count(), ttl.count())
                     .c_str(),
                 stderr);
    }
    session = std::move(*opened);
    return session;
  }

  Result<std::shared_ptr<Session>> DefaultSession() { return SessionFor(options_.session_timeout); }

  // Creates our ephemeral sequential node, and the lock's parents if missing. After a
  // lost reply, looks for the node by its uuid before creating another.
  Result<Entry> FindOrCreateNode(const std::shared_ptr<Session>& session,
                                 const std::string& lock_path, const AcquireRequest& request) {
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

  Result<Entry> CreateNode(const std::shared_ptr<Session>& session, const std::string& lock_path,
                           const AcquireRequest& request) {
    const std::string prefix = lock_path + "/" + zk::NodePrefix(request.owner_id);
    const std::string data = NodeData(request.holder, session->timeout());
    std::string created(prefix.size() + 32, '\0');
    for (int attempt = 0; attempt < 4; ++attempt) {
      Stat stat{};
      int rc = zoo_create2(session->handle(), prefix.c_str(), data.data(),
                           static_cast<int>(data.size()), &acl_, ZOO_EPHEMERAL_SEQUENTIAL,
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
  Status CreateParents(const Session& session, const std::string& path) {
    int rc =
        zoo_create(session.handle(), path.c_str(), nullptr, -1, &acl_, ZOO_PERSISTENT, nullptr, 0);
    if (rc == ZNONODE) {
      auto slash = path.rfind('/');
      if (slash == 0 || slash == std::string::npos) return ZkError(rc, "creating " + path);
      DLOCK_RETURN_IF_ERROR(CreateParents(session, path.substr(0, slash)));
      rc = zoo_create(session.handle(), path.c_str(), nullptr, -1, &acl_, ZOO_PERSISTENT, nullptr,
                      0);
    }
    if (rc != ZOK && rc != ZNODEEXISTS) return ZkError(rc, "creating " + path);
    return OkStatus();
  }

  // The node `owner_id` created under `lock_path`, found by its uuid, with its czxid.
  Result<std::optional<Entry>> FindByOwner(const std::string& lock_path,
                                           const std::string& owner_id,
                                           std::shared_ptr<Session> session = nullptr) {
    if (!session) {
      auto s = DefaultSession();
      if (!s.ok()) return s.status();
      session = *s;
    }
    auto children = GetChildren(*session, lock_path);
    if (!children.ok()) return children.status();
    auto own = zk::FindOwnNode(*children, owner_id);
    if (!own) return std::optional<Entry>();
    Entry entry{lock_path, *own, session};
    auto node = GetNode(*session, entry.Path());
    if (!node.ok()) return node.status();
    if (!*node) return std::optional<Entry>();
    entry.token = static_cast<FencingToken>((*node)->stat.czxid);
    entry.foreign = (*node)->stat.ephemeralOwner != session->id();
    auto contenders = zk::SortContenders(*children);
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
  Status ReadyForMulti(const Entry& entry, std::string_view name) {
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
  Status Delete(const Entry& entry, std::string_view name) {
    const std::string path = entry.Path();
    int rc;
    if (entry.granted) {
      DLOCK_RETURN_IF_ERROR(ReadyForMulti(entry, name));
      std::string token = std::to_string(entry.token);
      std::array<zoo_op_t, 2> ops{};
      std::array<zoo_op_result_t, 2> results{};
      Stat stat{};
      zoo_delete_op_init(&ops[0], path.c_str(), -1);
      zoo_set_op_init(&ops[1], entry.lock_path.c_str(), token.data(),
                      static_cast<int>(token.size()), -1, &stat);
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
  Status CheckNode(const Entry& entry) {
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
  void DeleteOrKeep(const Entry& entry) {
    int rc = zoo_delete(entry.session->handle(), entry.Path().c_str(), -1);
    if (rc != ZOK && rc != ZNONODE && !entry.session->dead()) KeepOrphan(entry);
  }
  void KeepOrphan(const Entry& entry) {
    std::lock_guard lock(mu_);
    orphans_.push_back(entry);
  }
  // Retries the deletes that failed (from a caller's thread, never ZooKeeper's).
  void SweepOrphans() {
    std::vector<Entry> orphans;
    {
      std::lock_guard lock(mu_);
      orphans.swap(orphans_);
    }
    for (const auto& entry : orphans) DeleteOrKeep(entry);
  }
  bool Uncertain(const std::string& owner_id) {
    std::lock_guard lock(mu_);
    return uncertain_.contains(owner_id);
  }
  void ForgetUncertain(const std::string& owner_id) {
    std::lock_guard lock(mu_);
    uncertain_.erase(owner_id);
  }

  // Gives up a fresh attempt: deletes our node unless the caller keeps its place.
  Status Abandon(const AcquireRequest& request, const Entry& entry, Status why) {
    if (!entry.queued) {
      owners_.Take(request.owner_id);
      DeleteOrKeep(entry);
    }
    return why;
  }

  const ZooKeeperOptions options_;
  std::string digest_;
  std::array<ACL, 2> acl_entries_{};
  ACL_vector acl_{};

  std::mutex sessions_mu_;
  std::map<milliseconds, std::shared_ptr<Session>> sessions_;
  std::set<milliseconds> warned_;

  internal::OwnerMap<Entry> owners_;  // owner id -> our node
  std::mutex mu_;                     // guards the two below
  std::vector<Entry> orphans_;        // nodes to delete once ZooKeeper answers
  std::set<std::string> uncertain_;   // owners whose create may have happened unseen
};

}  // namespace

Result<ZooKeeperOptions> ZooKeeperOptionsFromUri(const BackendUri& uri) {
  ZooKeeperOptions o;
  if (uri.hosts.empty()) return InvalidArgumentError("zk:// needs at least one host");
  o.hosts.clear();
  for (const auto& hp : uri.hosts) {
    if (!o.hosts.empty()) o.hosts += ',';
    bool v6 = hp.host.find(':') != std::string::npos;
    o.hosts += fmt::format("{}{}{}:{}", v6 ? "[" : "", hp.host, v6 ? "]" : "",
                           hp.port == 0 ? 2181 : hp.port);
  }
  o.root = uri.path.empty() ? "/" : uri.path;
  if (auto root = zk::LockPath(o.root, "x"); !root.ok()) {
    return InvalidArgumentError(fmt::format("zk:// path '{}' is not a usable ZooKeeper path: {}",
                                            uri.path, root.status().message()));
  }
  if (uri.password && uri.user.empty()) {
    return InvalidArgumentError("zk:// digest auth needs a user name: zk://user:password@host");
  }
  if (!uri.user.empty() && !uri.password) {
    return InvalidArgumentError("zk:// digest auth needs a password: zk://user:password@host");
  }
  o.user = uri.user;
  o.password = uri.password;
  for (const auto& [key, value] : uri.query) {
    if (key == "connect_timeout" || key == "session_timeout") {
      auto d = ParseDuration(value);
      if (!d.ok()) return d.status();
      if (d->count() <= 0) {
        return InvalidArgumentError(fmt::format("zk:// option '{}' must be positive", key));
      }
      (key == "connect_timeout" ? o.connect_timeout : o.session_timeout) = *d;
    } else {
      return InvalidArgumentError(fmt::format(
          "unknown option '{}' for zk://; known: connect_timeout, session_timeout", key));
    }
  }
  return o;
}

Result<std::shared_ptr<Backend>> MakeZooKeeperBackend(const ZooKeeperOptions& options) {
  ZooKeeperOptions o = options;
  if (!o.clock) o.clock = SystemClock();
  if (o.password && o.user.empty()) return InvalidArgumentError("digest auth needs a user name");
  auto backend = std::make_shared<ZooKeeperBackend>(std::move(o));
  DLOCK_RETURN_IF_ERROR(backend->Connect());
  return std::shared_ptr<Backend>(std::move(backend));
}

}  // namespace dlock
