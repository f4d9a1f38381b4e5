// The ZooKeeper guard: the persistent znode ROOT/fence/R keeps the highest token R has
// seen; a write reads it, and one multi raises it (conditional on the version read) and
// runs the write, or neither happens and the write is tried again.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <mutex>
#include <string>
#include <utility>

#include "dlock/fence/zookeeper.h"
#include "zookeeper/acl.h"
#include "zookeeper/nodes.h"
#include "zookeeper/recipe.h"
#include "zookeeper/session.h"

namespace dlock::fence {
namespace {

// Tries of one write before it gives up with kUnavailable: each try after the first
// follows another writer's change (the fence node's version moved on: its write was
// applied; PATH came or went under a "create"), or a new session after ours expired.
constexpr int kAttempts = 16;

// The token in a fence node's data; 0 for no data (a node made as the parent of another
// resource's fence node).
Result<FencingToken> ParseRecord(const std::string& data, const std::string& path) {
  if (data.empty()) return FencingToken{0};
  FencingToken token = 0;
  auto [end, ec] = std::from_chars(data.data(), data.data() + data.size(), token);
  if (ec != std::errc() || end != data.data() + data.size()) {
    return FailedPreconditionError(fmt::format(
        "ZooKeeper node {} is not a fence record (one decimal token); was it written by "
        "something else?",
        path));
  }
  return token;
}

// PATH, if it is a znode path we may write: absolute, with no empty, "." or ".."
// component and no control character (checked here, not left to the C client, which
// must not fail to queue a multi's op: see ReadyForMulti).
Status ValidatePath(const std::string& path) {
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgumentError("the ZooKeeper path to write has a control character");
    }
  }
  if (!path.starts_with('/')) {
    return InvalidArgumentError(fmt::format("ZooKeeper path '{}' is not absolute", path));
  }
  for (std::size_t begin = 1; begin <= path.size();) {
    std::size_t end = std::min(path.find('/', begin), path.size());
    std::string_view part(path.data() + begin, end - begin);
    if (part.empty() || part == "." || part == "..") {
      return InvalidArgumentError(fmt::format(
          "ZooKeeper path '{}' has an empty, '.' or '..' component, which ZooKeeper does not "
          "allow",
          path));
    }
    begin = end + 1;
  }
  return OkStatus();
}

class ZooKeeperGuard final : public Guard {
 public:
  ZooKeeperGuard(ZooKeeperOptions options, std::string fence_root)
      : options_(std::move(options)), fence_root_(std::move(fence_root)), acl_(options_) {}

  // Starts the TLS bridge (?tls=true) and opens the session. Called once, first.
  Status Connect() {
    auto bridge = zk::TlsBridge::Start(options_);
    if (!bridge.ok()) return bridge.status();
    bridge_ = std::move(*bridge);
    return CurrentSession().status();
  }

  Result<std::string> Apply(std::string_view resource, FencingToken token,
                            const std::vector<std::string>& write) override {
    DLOCK_RETURN_IF_ERROR(ValidateFencedWrite(resource, token, write));
    DLOCK_RETURN_IF_ERROR(ValidateWrite(write));
    auto fence_path = FencePath(resource);
    if (!fence_path.ok()) return fence_path.status();
    const std::string& path = write[1];
    const std::string& data = write[2];
    const std::string recorded = std::to_string(token);
    // "create" tries a create op first, and a setData op once the node turned out to
    // exist (and a create again if it went meanwhile).
    bool create = write[0] == "create";
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      auto session = CurrentSession();
      if (!session.ok()) return session.status();
      const zk::Session& s = **session;
      auto fence = zk::GetNode(s, *fence_path);
      if (!fence.ok()) {
        if (s.dead()) continue;  // nothing was sent that writes: in a new session
        return fence.status();
      }
      if (!*fence) {
        DLOCK_RETURN_IF_ERROR(CreateFence(s, *fence_path));
        continue;
      }
      auto highest = ParseRecord((*fence)->data, *fence_path);
      if (!highest.ok()) return highest.status();
      if (token < *highest) return StaleTokenError(resource, token, *highest);

      if (Status ready = ReadyForMulti(s, *fence_path); !ready.ok()) {
        if (s.dead()) continue;
        return ready;
      }
      std::array<zoo_op_t, 2> ops{};
      std::array<zoo_op_result_t, 2> results{};
      Stat fence_stat{};
      Stat written_stat{};
      std::string created(path.size() + 1, '\0');
      zoo_set_op_init(&ops[0], fence_path->c_str(), recorded.data(),
                      static_cast<int>(recorded.size()), (*fence)->stat.version, &fence_stat);
      if (create) {
        zoo_create_op_init(&ops[1], path.c_str(), data.data(), static_cast<int>(data.size()),
                           acl_.acl(), ZOO_PERSISTENT, created.data(),
                           static_cast<int>(created.size()));
      } else {
        zoo_set_op_init(&ops[1], path.c_str(), data.data(), static_cast<int>(data.size()), -1,
                        &written_stat);
      }
      int rc = zoo_multi(s.handle(), static_cast<int>(ops.size()), ops.data(), results.data());
      if (rc == ZOK) return std::string(create ? "created" : "");
      // A multi the server refused names the op that failed (ops before it: ZOK, after
      // it: ZRUNTIMEINCONSISTENCY); nothing of it was applied.
      const int fence_rc = results[0].err;
      const int write_rc = results[1].err;
      if (fence_rc == ZBADVERSION || fence_rc == ZNONODE) continue;  // another writer raced
      if (fence_rc == ZOK && write_rc == ZNODEEXISTS && create) {
        create = false;
        continue;
      }
      if (fence_rc == ZOK && write_rc == ZNONODE && !create && write[0] == "create") {
        create = true;
        continue;
      }
      if (fence_rc == ZOK && write_rc == ZNONODE) {
        return FailedPreconditionError(
            create ? fmt::format("ZooKeeper: the parent of {} does not exist; nothing was written",
                                 path)
                   : fmt::format("ZooKeeper: {} does not exist; nothing was written", path));
      }
      return zk::ZkError(rc, fmt::format("writing {} fenced by {}", path, *fence_path));
    }
    return UnavailableError(
        fmt::format("ZooKeeper: {} tries to write {} met other writers' changes (to {} or to "
                    "it); nothing was written, try again",
                    kAttempts, path, *fence_path));
  }

  Result<FencingToken> Highest(std::string_view resource) override {
    if (resource.empty()) return InvalidArgumentError("the resource name is empty");
    auto fence_path = FencePath(resource);
    if (!fence_path.ok()) return fence_path.status();
    auto session = CurrentSession();
    if (!session.ok()) return session.status();
    auto fence = zk::GetNode(**session, *fence_path);
    if (!fence.ok()) return fence.status();
    if (!*fence) return FencingToken{0};
    return ParseRecord((*fence)->data, *fence_path);
  }

  std::string_view kind() const override { return "zk"; }

 private:
  Result<std::string> FencePath(std::string_view resource) const {
    return zk::LockPath(options_.root, "fence/" + std::string(resource));
  }

  Status ValidateWrite(const std::vector<std::string>& write) const {
    if ((write[0] != "set" && write[0] != "create") || write.size() != 3) {
      return InvalidArgumentError(fmt::format(
          "a ZooKeeper write is {{\"set\", PATH, DATA}} or {{\"create\", PATH, DATA}}, not '{}' "
          "with {} argument(s)",
          write[0], write.size() - 1));
    }
    const std::string& path = write[1];
    DLOCK_RETURN_IF_ERROR(ValidatePath(path));
    if (path == fence_root_ || path.starts_with(fence_root_ + "/")) {
      return InvalidArgumentError(fmt::format(
          "ZooKeeper path '{}' is under {}, where the guard keeps its tokens", path, fence_root_));
    }
    return OkStatus();
  }

  // The session, opened again if it ended (the guard's nodes are persistent: nothing of
  // ours went with it).
  Result<std::shared_ptr<zk::Session>> CurrentSession() {
    std::lock_guard lock(session_mu_);
    if (session_ && !session_->dead()) return session_;
    auto opened = zk::Session::Open({options_.hosts, options_.session_timeout, acl_.digest(),
                                     options_.connect_timeout, bridge_});
    if (!opened.ok()) return opened.status();
    session_ = std::move(*opened);
    return session_;
  }

  // Creates the fence node `path` with token 0, and its parents if missing; another
  // writer's node, created first, is as good.
  Status CreateFence(const zk::Session& session, const std::string& path) {
    int rc =
        zoo_create(session.handle(), path.c_str(), "0", 1, acl_.acl(), ZOO_PERSISTENT, nullptr, 0);
    if (rc == ZNONODE) {
      DLOCK_RETURN_IF_ERROR(CreateParents(session, path.substr(0, path.rfind('/'))));
      rc = zoo_create(session.handle(), path.c_str(), "0", 1, acl_.acl(), ZOO_PERSISTENT, nullptr,
                      0);
    }
    if (rc != ZOK && rc != ZNODEEXISTS) return zk::ZkError(rc, "creating " + path);
    return OkStatus();
  }

  // Creates `path` (no data) and whatever of its parents is missing, the deepest first.
  Status CreateParents(const zk::Session& session, const std::string& path) {
    int rc = zoo_create(session.handle(), path.c_str(), nullptr, -1, acl_.acl(), ZOO_PERSISTENT,
                        nullptr, 0);
    if (rc == ZNONODE) {
      auto slash = path.rfind('/');
      if (slash == 0 || slash == std::string::npos) return zk::ZkError(rc, "creating " + path);
      DLOCK_RETURN_IF_ERROR(CreateParents(session, path.substr(0, slash)));
      rc = zoo_create(session.handle(), path.c_str(), nullptr, -1, acl_.acl(), ZOO_PERSISTENT,
                      nullptr, 0);
    }
    if (rc != ZOK && rc != ZNODEEXISTS) return zk::ZkError(rc, "creating " + path);
    return OkStatus();
  }

  // As the backend's ReadyForMulti (own_nodes.cc, which says why): the C client may crash
  // on a multi sent to a handle that turns unrecoverable while it queues the ops, so a
  // multi goes only to a connected handle. Disconnected, a one-op read waits for the
  // reconnection. kUnavailable if the session ended (the caller opens another) or
  // ZooKeeper cannot be reached.
  static Status ReadyForMulti(const zk::Session& session, const std::string& path) {
    zhandle_t* zh = session.handle();
    if (zoo_state(zh) == ZOO_CONNECTED_STATE) return OkStatus();
    Stat stat{};
    int rc = zoo_exists(zh, path.c_str(), 0, &stat);
    if (session.dead()) return UnavailableError("ZooKeeper: the guard's session ended");
    if (rc != ZOK && rc != ZNONODE) return zk::ZkError(rc, "reconnecting to write " + path);
    if (zoo_state(zh) != ZOO_CONNECTED_STATE) {
      return UnavailableError(fmt::format("ZooKeeper disconnected before writing {}", path));
    }
    return OkStatus();
  }

  const ZooKeeperOptions options_;
  const std::string fence_root_;  // ROOT/fence
  const zk::NodeAcl acl_;
  std::shared_ptr<zk::TlsBridge> bridge_;  // with TLS; set by Connect, constant after

  std::mutex session_mu_;
  std::shared_ptr<zk::Session> session_;
};

}  // namespace

Result<std::unique_ptr<Guard>> MakeZooKeeperGuard(const ZooKeeperOptions& options) {
  if (options.password && options.user.empty()) {
    return InvalidArgumentError("digest auth needs a user name");
  }
  auto fence_root = zk::LockPath(options.root, "fence");
  if (!fence_root.ok()) return fence_root.status();
  auto guard = std::make_unique<ZooKeeperGuard>(options, std::move(*fence_root));
  DLOCK_RETURN_IF_ERROR(guard->Connect());
  return std::unique_ptr<Guard>(std::move(guard));
}

}  // namespace dlock::fence
