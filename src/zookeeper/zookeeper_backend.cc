// The zk:// backend's calls (TryAcquire and the rest of Backend, the wait line of
// QueueingBackend) and its sessions; what they do with our nodes is in own_nodes.cc.
#include "zookeeper/zookeeper_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <utility>

#include "core/lease_rules.h"
#include "zookeeper/nodes.h"
#include "zookeeper/recipe.h"

namespace dlock {
namespace zk {

using std::chrono::milliseconds;

ZooKeeperBackend::ZooKeeperBackend(ZooKeeperOptions options)
    : options_(std::move(options)), acl_(options_) {}

Status ZooKeeperBackend::Connect() {
  auto bridge = TlsBridge::Start(options_);
  if (!bridge.ok()) return bridge.status();
  bridge_ = std::move(*bridge);
  return SessionFor(options_.session_timeout).status();
}

Result<Lease> ZooKeeperBackend::TryAcquire(const AcquireRequest& request) {
  DLOCK_RETURN_IF_ERROR(internal::ValidateAcquireRequest(request));
  auto lock_path = LockPath(options_.root, request.name);
  if (!lock_path.ok()) return lock_path.status();
  auto session = SessionFor(request.ttl);
  if (!session.ok()) return session.status();

  SweepOrphans();
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::optional<Entry> entry = EntryIn(*session, request.owner_id);
    // Proof that the session is alive, through the leader: the create, or a check of
    // our node (a read could be answered by a follower that lost the leader).
    const auto start = options_.clock->Now();
    auto proven = ProveOrCreate(std::move(entry), *session, *lock_path, request);
    if (!proven.ok()) return proven.status();
    if (!*proven) continue;  // deleted under us: again
    Entry& ours = **proven;
    auto place = PlaceInLine(ours, *lock_path);
    if (!place.ok()) return Abandon(request, ours, place.status());
    if (!*place) {  // deleted between the proof and the listing
      owners_.Take(request.owner_id);
      continue;
    }
    if ((*place)->ahead > 0) return NotFirst(request, ours, **place);
    return Grant(request, ours, start);
  }
  return ContendedError(
      fmt::format("lock '{}': our node keeps being deleted (force-released?)", request.name));
}

std::optional<ZooKeeperBackend::Entry> ZooKeeperBackend::EntryIn(
    const std::shared_ptr<Session>& session, const std::string& owner_id) {
  std::optional<Entry> entry = owners_.Find(owner_id);
  if (entry && entry->session != session) {
    // Queued in another session: gone with it if it ended, else ours to remove.
    owners_.Take(owner_id);
    if (!entry->session->dead()) DeleteOrKeep(*entry);
    entry.reset();
  }
  return entry;
}

Result<std::optional<ZooKeeperBackend::Entry>> ZooKeeperBackend::ProveOrCreate(
    std::optional<Entry> entry, const std::shared_ptr<Session>& session,
    const std::string& lock_path, const AcquireRequest& request) {
  if (!entry) {
    auto created = FindOrCreateNode(session, lock_path, request);
    if (!created.ok()) return created.status();
    return std::optional<Entry>(std::move(*created));
  }
  Status alive = CheckNode(*entry);
  if (alive.code() == Code::kNotHeld) {  // force-released while queued
    owners_.Take(request.owner_id);
    return std::optional<Entry>();
  }
  if (!alive.ok()) return alive;
  return entry;
}

Result<std::optional<ZooKeeperBackend::Place>> ZooKeeperBackend::PlaceInLine(
    const Entry& entry, const std::string& lock_path) {
  auto children = GetChildren(*entry.session, lock_path);
  if (!children.ok()) return children.status();
  auto contenders = SortContenders(*children);
  auto ours = std::find_if(contenders.begin(), contenders.end(),
                           [&](const Contender& c) { return c.node == entry.node; });
  if (ours == contenders.end()) return std::optional<Place>();
  return std::optional<Place>(Place{contenders.front().node, ours - contenders.begin()});
}

Status ZooKeeperBackend::NotFirst(const AcquireRequest& request, Entry& entry, const Place& place) {
  Status contended = ContendedError(fmt::format("lock '{}' is held by {} ({} ahead of us)",
                                                request.name, place.holder, place.ahead));
  if (!request.queue) return Abandon(request, entry, contended);
  entry.queued = true;
  owners_.Store(request.owner_id, entry);
  return contended;
}

Result<Lease> ZooKeeperBackend::Grant(const AcquireRequest& request, Entry& entry,
                                      std::chrono::steady_clock::time_point start) {
  if (entry.queued) AnnounceGrant(request, entry);
  entry.granted = true;
  owners_.Store(request.owner_id, entry);
  const milliseconds ttl = entry.session->timeout();
  Lease lease{request.name, request.owner_id, entry.token, ttl,
              ValidUntil(start, ttl, options_.drift)};
  if (options_.clock->Now() >= lease.valid_until) {
    Release(lease).IgnoreError();
    return UnavailableError("ZooKeeper answered after the lease's validity ended");
  }
  return lease;
}

void ZooKeeperBackend::AnnounceGrant(const AcquireRequest& request, const Entry& entry) {
  // Waited in line: the node's "since" is when we joined; say when we got it.
  HolderInfo holder = request.holder;
  holder.since = std::chrono::system_clock::now();
  std::string data = NodeData(holder, entry.session->timeout());
  // Display only, so not waited for (a write is a round trip through the leader's log):
  // the request is queued on the session, ahead of our release, and a failure is
  // harmless. The client copies the data before this returns.
  zoo_aset(
      entry.session->handle(), entry.Path().c_str(), data.data(), static_cast<int>(data.size()), -1,
      [](int, const Stat*, const void*) {}, nullptr);
}

Result<Lease> ZooKeeperBackend::Extend(const Lease& lease, milliseconds ttl) {
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
  return Lease{lease.name, lease.owner_id, entry->token, granted,
               ValidUntil(start, granted, options_.drift)};
}

Status ZooKeeperBackend::Release(const Lease& lease) {
  DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
  auto lock_path = LockPath(options_.root, lease.name);
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

Status ZooKeeperBackend::ForceRelease(std::string_view name) {
  DLOCK_RETURN_IF_ERROR(ValidateName(name));
  auto lock_path = LockPath(options_.root, name);
  if (!lock_path.ok()) return lock_path.status();
  auto session = DefaultSession();
  if (!session.ok()) return session.status();
  auto children = GetChildren(**session, *lock_path);
  if (!children.ok()) return children.status();
  auto contenders = SortContenders(*children);
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

Result<LockState> ZooKeeperBackend::Inspect(std::string_view name) {
  DLOCK_RETURN_IF_ERROR(ValidateName(name));
  auto lock_path = LockPath(options_.root, name);
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
    auto contenders = SortContenders(*children);
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

Status ZooKeeperBackend::Wait(std::string_view name, std::chrono::steady_clock::time_point deadline,
                              std::stop_token stop, std::string_view waiter) {
  DLOCK_RETURN_IF_ERROR(ValidateName(name));
  auto lock_path = LockPath(options_.root, name);
  if (!lock_path.ok()) return lock_path.status();
  if (stop.stop_requested()) return CancelledError("cancelled while waiting");
  if (std::chrono::steady_clock::now() >= deadline) {
    return DeadlineExceededError("the lock was not released in time");
  }
  Watch watch;
  std::optional<Entry> entry;
  if (!waiter.empty()) entry = owners_.Find(std::string(waiter));
  auto watching = entry && !entry->session->dead() ? WatchPredecessor(*entry, *lock_path, watch)
                                                   : WatchContenders(*lock_path, watch);
  if (!watching.ok()) return watching.status();
  if (!*watching) return OkStatus();
  return watch.Wait(deadline, stop);
}

Result<bool> ZooKeeperBackend::WatchPredecessor(const Entry& entry, const std::string& lock_path,
                                                Watch& watch) {
  auto children = GetChildren(*entry.session, lock_path);
  if (!children.ok()) return children.status();
  auto contenders = SortContenders(*children);
  auto ours = std::find_if(contenders.begin(), contenders.end(),
                           [&](const Contender& c) { return c.node == entry.node; });
  if (ours == contenders.end() || ours == contenders.begin()) return false;
  return WatchNode(*entry.session, lock_path + "/" + std::prev(ours)->node, watch);
}

Result<bool> ZooKeeperBackend::WatchContenders(const std::string& lock_path, Watch& watch) {
  auto session = DefaultSession();
  if (!session.ok()) return session.status();
  auto children = WatchChildren(**session, lock_path, watch);
  if (!children.ok()) return children.status();
  return *children && !SortContenders(**children).empty();
}

Status ZooKeeperBackend::LeaveQueue(std::string_view name, std::string_view owner_id) {
  std::optional<Entry> entry = owners_.Take(std::string(owner_id));
  if (!entry && Uncertain(std::string(owner_id))) {
    // A create whose answer was lost may have made a node: find it to delete it.
    auto lock_path = LockPath(options_.root, name);
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

Result<std::shared_ptr<Session>> ZooKeeperBackend::SessionFor(milliseconds ttl) {
  std::lock_guard lock(sessions_mu_);
  auto& session = sessions_[ttl];
  if (session && !session->dead()) return session;
  SessionConfig config{options_.hosts, ttl, acl_.digest(), options_.connect_timeout, bridge_};
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

Result<std::shared_ptr<Session>> ZooKeeperBackend::DefaultSession() {
  return SessionFor(options_.session_timeout);
}

}  // namespace zk

Result<std::shared_ptr<Backend>> MakeZooKeeperBackend(const ZooKeeperOptions& options) {
  ZooKeeperOptions o = options;
  if (!o.clock) o.clock = SystemClock();
  if (o.password && o.user.empty()) return InvalidArgumentError("digest auth needs a user name");
  auto backend = std::make_shared<zk::ZooKeeperBackend>(std::move(o));
  DLOCK_RETURN_IF_ERROR(backend->Connect());
  return std::shared_ptr<Backend>(std::move(backend));
}

}  // namespace dlock
