#include "zookeeper/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include "zookeeper/hosts.h"

namespace dlock::zk {
namespace {

using Clock = std::chrono::steady_clock;

// The C client logs connection trouble to stderr by itself; we report errors as values.
void QuietLog(const char*) {}

}  // namespace

Result<std::shared_ptr<Session>> Session::Open(const SessionConfig& config) {
  std::shared_ptr<Session> session(new Session());
  const auto deadline = Clock::now() + config.connect_timeout;
  session->bridge_ = config.bridge;
  std::shared_ptr<void> watching;  // dropped before `session` can go
  if (config.bridge) {
    const std::size_t hosts = config.bridge->host_count();
    session->tls_failed_.assign(hosts, false);
    watching = config.bridge->WatchFailures(
        [s = session.get(), hosts](std::size_t host, const Status& failure, bool refused) {
          s->NoteTlsFailure(host, hosts, failure, refused);
        });
  }
  const std::string& connect_to = config.bridge ? config.bridge->local_hosts() : config.hosts;
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  session->zh_ = zookeeper_init2(connect_to.c_str(), &Session::OnEvent,
                                 static_cast<int>(config.timeout.count()), nullptr, session.get(),
                                 0, &QuietLog);
  if (session->zh_ == nullptr) {
    return InvalidArgumentError(
        fmt::format("cannot use ZooKeeper hosts '{}': {}", config.hosts, std::strerror(errno)));
  }
  // By default the client resolves the host list again at every poll of its socket (a
  // netlink dump and getaddrinfo per request): most of its CPU. Every 30 s is enough to
  // follow DNS changes; a connection loss resolves at once anyway.
  zoo_set_servers_resolution_delay(session->zh_, 30000);
  if (!config.digest.empty()) {
    int rc = zoo_add_auth(session->zh_, "digest", config.digest.data(),
                          static_cast<int>(config.digest.size()), nullptr, nullptr);
    if (rc != ZOK) return ZkError(rc, "adding digest credentials");
  }
  if (!session->WaitConnected(deadline)) {
    watching.reset();
    if (session->dead()) {
      return FailedPreconditionError(
          fmt::format("ZooKeeper at {} refused the session (authentication failed)", config.hosts));
    }
    return session->NotOpened(config);
  }
  watching.reset();
  session->NoteTimeout(zoo_recv_timeout(session->zh_));
  session->id_ = zoo_client_id(session->zh_)->client_id;
  return session;
}

void Session::NoteTlsFailure(std::size_t host, std::size_t hosts, const Status& failure,
                             bool refused) {
  {
    std::lock_guard lock(mu_);
    if (refused && host < tls_failed_.size()) tls_failed_[host] = true;
    tls_failure_ = failure;
    tls_all_failed_ = std::count(tls_failed_.begin(), tls_failed_.end(), true) ==
                      static_cast<std::ptrdiff_t>(hosts);
  }
  cv_.notify_all();
}

Status Session::NotOpened(const SessionConfig& config) const {
  {
    std::lock_guard lock(mu_);
    if (!tls_failure_.ok()) return tls_failure_;
  }
  std::string silent;  // hosts that took the TCP connection and said nothing
  if (!config.bridge) {
    auto hosts = ParseHosts(config.hosts);
    for (const HostPort& hp : hosts.ok() ? *hosts : std::vector<HostPort>{}) {
      if (AcceptsConnections(hp, std::chrono::milliseconds(500))) {
        if (!silent.empty()) silent += ',';
        silent += hp.ToString();
      }
    }
  }
  if (!silent.empty()) {
    return UnavailableError(fmt::format(
        "ZooKeeper at {} took the connection but did not answer the ZooKeeper handshake within "
        "{}ms: if it is a TLS port, use zk://...?tls=true&cacert=CA_FILE",
        silent, config.connect_timeout.count()));
  }
  return UnavailableError(fmt::format("no ZooKeeper server at {} answered within {}ms",
                                      config.hosts, config.connect_timeout.count()));
}

Session::~Session() {
  if (zh_ != nullptr) zookeeper_close(zh_);
}

void Session::NoteTimeout(int granted_ms) {
  std::int64_t seen = timeout_ms_.load();
  while (granted_ms > 0 && (seen == 0 || granted_ms < seen) &&
         !timeout_ms_.compare_exchange_weak(seen, granted_ms)) {
  }
}

void Session::OnEvent(zhandle_t* zh, int type, int state, const char*, void* context) {
  if (type != ZOO_SESSION_EVENT) return;
  auto* self = static_cast<Session*>(context);
  if (state == ZOO_CONNECTED_STATE) self->NoteTimeout(zoo_recv_timeout(zh));
  {
    std::lock_guard lock(self->mu_);
    self->state_ = state;
  }
  self->cv_.notify_all();
  if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) Watch::WakeAll();
}

bool Session::dead() const {
  // The handle knows first; its event reaches OnEvent later.
  if (is_unrecoverable(zh_) == ZINVALIDSTATE) return true;
  std::lock_guard lock(mu_);
  return state_ == ZOO_EXPIRED_SESSION_STATE || state_ == ZOO_AUTH_FAILED_STATE;
}

bool Session::WaitConnected(Clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] {
    return state_ == ZOO_CONNECTED_STATE || state_ == ZOO_EXPIRED_SESSION_STATE ||
           state_ == ZOO_AUTH_FAILED_STATE || tls_all_failed_;
  });
  return state_ == ZOO_CONNECTED_STATE;
}

// --- Watch ----------------------------------------------------------------------------------

struct Watch::State {
  std::mutex mu;
  std::condition_variable_any cv;
  bool fired = false;

  void Fire() {
    {
      std::lock_guard lock(mu);
      fired = true;
    }
    cv.notify_all();
  }
};

namespace {

// Pending watches by id: ZooKeeper hands the id back, so a watch that fires after its
// waiter left finds nothing.
struct Registry {
  std::mutex mu;
  std::uint64_t next = 1;
  std::map<std::uint64_t, std::weak_ptr<void>> pending;
};

Registry& Watches() {
  static Registry* registry = new Registry();  // never destroyed: callbacks may outlive main
  return *registry;
}

}  // namespace

Watch::Watch() : state_(std::make_shared<State>()) {
  auto& r = Watches();
  std::lock_guard lock(r.mu);
  id_ = r.next++;
  r.pending.emplace(id_, std::static_pointer_cast<void>(state_));
}

Watch::~Watch() {
  auto& r = Watches();
  std::lock_guard lock(r.mu);
  r.pending.erase(id_);
}

void* Watch::context() const { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(id_)); }

void Watch::Callback(zhandle_t*, int, int, const char*, void* context) {
  auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(context));
  std::shared_ptr<State> state;
  {
    auto& r = Watches();
    std::lock_guard lock(r.mu);
    auto it = r.pending.find(id);
    if (it == r.pending.end()) return;
    state = std::static_pointer_cast<State>(it->second.lock());
  }
  if (state) state->Fire();
}

void Watch::WakeAll() {
  std::vector<std::shared_ptr<State>> states;
  {
    auto& r = Watches();
    std::lock_guard lock(r.mu);
    for (auto& [id, weak] : r.pending) {
      if (auto s = weak.lock()) states.push_back(std::static_pointer_cast<State>(s));
    }
  }
  for (auto& s : states) s->Fire();
}

Status Watch::Wait(Clock::time_point deadline, std::stop_token stop) {
  std::unique_lock lock(state_->mu);
  bool fired = state_->cv.wait_until(lock, stop, deadline, [&] { return state_->fired; });
  if (fired) return OkStatus();
  if (stop.stop_requested()) return CancelledError("cancelled while waiting");
  return DeadlineExceededError("the lock was not released in time");
}

Status ZkError(int rc, const std::string& what) {
  std::string message = fmt::format("ZooKeeper {}: {}", what, zerror(rc));
  switch (rc) {
    case ZCONNECTIONLOSS:
    case ZOPERATIONTIMEOUT:
    case ZSESSIONEXPIRED:
    case ZSESSIONMOVED:
    case ZINVALIDSTATE:
    case ZCLOSING:
    case ZNOTHING: return UnavailableError(std::move(message));
    case ZNOAUTH:
    case ZAUTHFAILED:
      return FailedPreconditionError(message + " (check the URI's user and password)");
    case ZBADARGUMENTS: return InvalidArgumentError(std::move(message));
    default: return InternalError(std::move(message));
  }
}

}  // namespace dlock::zk
