// The redis+cluster:// backend: the redis:// backend (redis/redis_backend.h) on each master
// of the slot map (redis/cluster/slot_map.h), each with its configEpoch in its tokens, and
// every call on a lock sent to the master of the lock's slot; the map read again when a
// node redirects a call or cannot be reached.
#include <fmt/format.h>

#include <array>
#include <charconv>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>
#include <thread>

#include "dlock/async_backend.h"
#include "dlock/backends/redis_cluster.h"
#include "dlock/batch_backend.h"
#include "dlock/queueing_backend.h"
#include "redis/client/client.h"
#include "redis/client/reply_error.h"
#include "redis/cluster/slot_map.h"
#include "redis/common/client_options.h"
#include "redis/common/keys.h"
#include "redis/common/replaceable_call.h"
#include "redis/redis_backend.h"

namespace dlock {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// One master of the map, and the backend on it.
struct Node {
  redis::ClusterMaster master;
  std::shared_ptr<Backend> backend;
  std::stop_source replaced;  // requested when a map no longer names it (address and epoch)
};

// The slot map with a backend per master.
struct Routes {
  std::vector<std::shared_ptr<Node>> nodes;
  std::array<std::int16_t, redis::kClusterSlots> owner{};
};

// What a failed call says of the map.
enum class Refusal {
  kNone,       // nothing: the call's own result
  kMoved,      // MOVED, DLOCK_EPOCH, READONLY: the map is stale; send again at once
  kMigrating,  // ASK, TRYAGAIN, CLUSTERDOWN: a migration or a failover; send again soon
  kStale,      // unreachable: read the map again for the next call, which the caller makes
};

// The server's error reply comes as "ENDPOINT: REPLY" (redis/client/reply_error.h).
Refusal Classify(const Status& s) {
  if (s.code() != Code::kUnavailable) return Refusal::kNone;
  const std::string& m = s.message();
  const auto reply = m.find(": ");
  const std::string_view text =
      reply == std::string::npos ? std::string_view() : std::string_view(m).substr(reply + 2);
  // (A shard subscription the server ended, its slot moved, is one too.)
  for (std::string_view moved :
       {"MOVED ", "DLOCK_EPOCH", "READONLY", "the server ended the subscription"}) {
    if (text.starts_with(moved)) return Refusal::kMoved;
  }
  for (std::string_view migrating : {"ASK ", "TRYAGAIN", "CLUSTERDOWN"}) {
    if (text.starts_with(migrating)) return Refusal::kMigrating;
  }
  return Refusal::kStale;
}

using redis::StatusOf;

// A migrating slot is asked again after this pause, until the call's time runs out.
constexpr milliseconds kMigrationPause{20};
constexpr int kMaxRedirects = 64;
constexpr int kMaxAsyncRedirects = 3;  // sent again at once: no pause on an I/O thread

// The node a MOVED reply ("ENDPOINT: MOVED SLOT HOST:PORT") names, if it is one.
std::optional<HostPort> MovedTo(const Status& s) {
  const std::string& m = s.message();
  const auto at = m.find(": MOVED ");
  if (at == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(m).substr(at + 8);
  rest = rest.substr(rest.find(' ') == std::string_view::npos ? rest.size() : rest.find(' ') + 1);
  const auto colon = rest.rfind(':');
  std::uint16_t port = 0;
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  auto [end, ec] = std::from_chars(rest.data() + colon + 1, rest.data() + rest.size(), port);
  if (ec != std::errc() || end != rest.data() + rest.size() || port == 0) return std::nullopt;
  return HostPort{std::string(rest.substr(0, colon)), port};
}

class ClusterBackend final : public Backend,
                             public QueueingBackend,
                             public AsyncBackend,
                             public BatchExtendBackend,
                             public std::enable_shared_from_this<ClusterBackend> {
 public:
  ClusterBackend(RedisClusterOptions options, redis::ClientOptions node_client)
      : options_(std::move(options)), node_client_(std::move(node_client)) {
    floor_.fill(0);
  }

  Status Start() { return Refresh().status(); }

  Result<Lease> TryAcquire(const AcquireRequest& request) override {
    return OnSlot(request.name, [&](Backend& b) { return b.TryAcquire(request); });
  }
  Result<Lease> Extend(const Lease& lease, milliseconds ttl) override {
    return OnSlot(lease.name, [&](Backend& b) { return b.Extend(lease, ttl); });
  }
  Status Release(const Lease& lease) override {
    return OnSlot(lease.name, [&](Backend& b) { return b.Release(lease); });
  }
  Status ForceRelease(std::string_view name) override {
    return OnSlot(name, [&](Backend& b) { return b.ForceRelease(name); });
  }
  Result<LockState> Inspect(std::string_view name) override {
    return OnSlot(name, [&](Backend& b) { return b.Inspect(name); });
  }
  // A wait on a master that the map no longer names returns early (OK: the caller asks
  // again, on the new owner of the slot).
  Status WaitForRelease(std::string_view name, steady_clock::time_point deadline,
                        std::stop_token stop) override {
    return OnSlotWaiting(
        name,
        [&](Backend& b, std::stop_token until) { return b.WaitForRelease(name, deadline, until); },
        stop);
  }
  Result<std::optional<Lease>> WaitForTurn(const AcquireRequest& request,
                                           steady_clock::time_point deadline,
                                           std::stop_token stop) override {
    return OnSlotWaiting(
        request.name,
        [&](Backend& b, std::stop_token until) {
          return b.queueing()->WaitForTurn(request, deadline, until);
        },
        stop);
  }
  Status LeaveQueue(std::string_view name, std::string_view owner_id) override {
    return OnSlot(name, [&](Backend& b) { return b.queueing()->LeaveQueue(name, owner_id); });
  }

  // Pipelined on the slot's master, as redis://'s. A MOVED reply sends the call again to
  // the new owner, after the map is read again on that I/O thread (one CLUSTER NODES, or
  // more while nodes cannot be reached: that node's other calls wait meanwhile); a slot
  // being migrated fails the call (kUnavailable) rather than pause there. `done` runs on
  // an I/O thread.
  void TryAcquireAsync(const AcquireRequest& request, AcquireCallback done) override {
    AcquireAsync(request, std::move(done), 0);
  }
  void ReleaseAsync(const Lease& lease, StatusCallback done) override {
    ReleaseAsync(lease, std::move(done), 0);
  }

  // Each master's leases in one pipelined batch; one that a master redirects is extended
  // again on its own (Extend).
  std::vector<Result<Lease>> ExtendMany(const std::vector<Lease>& leases) override {
    std::vector<Result<Lease>> out(leases.size(), UnavailableError("not sent"));
    auto routes = Current();
    if (!routes.ok()) return std::vector<Result<Lease>>(leases.size(), routes.status());
    std::map<std::int16_t, std::vector<std::size_t>> by_node;
    for (std::size_t i = 0; i < leases.size(); ++i) {
      by_node[(*routes)->owner[SlotOf(leases[i].name)]].push_back(i);
    }
    std::vector<std::size_t> again;
    // Every master's batch at once (a thread each but the first), so that a slow master
    // does not delay the renewals on the others.
    struct Batch {
      const std::vector<std::size_t>* indices;
      std::shared_ptr<Backend> backend;
      std::vector<Result<Lease>> results;
    };
    std::vector<Batch> batches;
    for (const auto& [node, indices] : by_node) {
      if (node < 0) {
        again.insert(again.end(), indices.begin(), indices.end());
      } else {
        batches.push_back(
            {&indices, (*routes)->nodes[static_cast<std::size_t>(node)]->backend, {}});
      }
    }
    auto run = [&leases](Batch& b) {
      std::vector<Lease> batch;
      for (std::size_t i : *b.indices) batch.push_back(leases[i]);
      b.results = b.backend->batch()->ExtendMany(batch);
    };
    std::vector<std::thread> threads;
    for (std::size_t b = 1; b < batches.size(); ++b)
      threads.emplace_back(run, std::ref(batches[b]));
    if (!batches.empty()) run(batches[0]);
    for (auto& t : threads) t.join();
    for (auto& b : batches) {
      const auto& indices = *b.indices;
      auto& results = b.results;
      for (std::size_t k = 0; k < indices.size(); ++k) {
        const Status status = StatusOf(results[k]);
        const Refusal r = Classify(status);
        if (r != Refusal::kNone) MarkStale(*routes, status);
        if (r == Refusal::kMoved || r == Refusal::kMigrating) {
          again.push_back(indices[k]);
        } else {
          out[indices[k]] = std::move(results[k]);
        }
      }
    }
    for (std::size_t i : again) out[i] = Extend(leases[i], leases[i].ttl);
    return out;
  }

  QueueingBackend* queueing() override { return this; }
  AsyncBackend* async() override { return this; }
  BatchExtendBackend* batch() override { return this; }
  std::string_view kind() const override { return "redis+cluster"; }
  DriftMargin drift() const override { return options_.node.drift; }

 private:
  std::size_t SlotOf(std::string_view name) const {
    return RedisClusterKeySlot(redis::LockKey(options_.node.prefix, name, ""));
  }

  // The current routes; the map read first if there are none, or a call found them stale.
  Result<std::shared_ptr<const Routes>> Current() {
    {
      std::lock_guard lock(mu_);
      if (routes_ && !stale_) return routes_;
    }
    return Refresh();
  }

  // The master of `name`'s slot in the current routes, and those routes. kUnavailable,
  // with *unserved set, when the map names no master for the slot (a failover going on).
  struct Route {
    std::shared_ptr<const Routes> routes;
    std::shared_ptr<Node> node;
  };
  Result<Route> RouteOf(std::string_view name, bool* unserved = nullptr) {
    // A name whose keys would not share one hash tag (it begins with '}', or the prefix
    // has a '{'): every script on it would be refused CROSSSLOT.
    if (SlotOf(name) != RedisClusterKeySlot(redis::LockKey(options_.node.prefix, name, ":fence"))) {
      return InvalidArgumentError(fmt::format(
          "lock name '{}' with prefix '{}' cannot be used on redis+cluster://: its keys "
          "would fall in different hash slots (a name may not begin with '}}')",
          name, options_.node.prefix));
    }
    auto routes = Current();
    if (!routes.ok()) return routes.status();
    const std::size_t slot = SlotOf(name);
    const auto owner = (*routes)->owner[slot];
    if (owner < 0) {
      MarkStale(*routes);
      if (unserved) *unserved = true;
      return UnavailableError(fmt::format(
          "no master of the cluster serves slot {} (lock '{}'): a failover in progress?", slot,
          name));
    }
    return Route{*routes, (*routes)->nodes[static_cast<std::size_t>(owner)]};
  }

  // A call over `seen` failed with `status`: the map is read again before the next call,
  // first from the node a MOVED named (the new owner knows itself).
  void MarkStale(const std::shared_ptr<const Routes>& seen, const Status& status = OkStatus()) {
    auto moved = MovedTo(status);
    std::lock_guard lock(mu_);
    if (routes_ != seen) return;
    stale_ = true;
    if (moved) moved_to_ = std::move(moved);
  }

  // `fn` on the master of `name`'s slot, sent again (to the node the map then names) while
  // it is redirected, within the command timeout: at once after the first MOVED, after a
  // pause otherwise. A slot no master serves is looked up again, after a pause, within
  // the same time.
  template <typename Fn>
  auto OnSlot(std::string_view name, Fn fn) -> decltype(fn(std::declval<Backend&>())) {
    const auto until = steady_clock::now() + options_.node.command_timeout;
    for (int attempt = 0;; ++attempt) {
      bool unserved = false;
      auto route = RouteOf(name, &unserved);
      if (!route.ok()) {
        if (!unserved || steady_clock::now() + kMigrationPause >= until) return route.status();
        std::this_thread::sleep_for(kMigrationPause);
        continue;
      }
      auto result = fn(*route->node->backend);
      const Status status = StatusOf(result);
      const Refusal r = Classify(status);
      if (r == Refusal::kNone) return result;
      MarkStale(route->routes, status);
      if (r == Refusal::kStale || attempt >= kMaxRedirects || steady_clock::now() >= until) {
        return result;
      }
      // A second redirect in a row: the nodes do not agree yet (gossip after a failover).
      if (r == Refusal::kMigrating || attempt > 0) std::this_thread::sleep_for(kMigrationPause);
    }
  }

  // For waits: `fn` gets a stop token that is also requested when the map stops naming
  // its master; that early end is OK (or no hand-off) for the caller, who asks again.
  template <typename Fn>
  auto OnSlotWaiting(std::string_view name, Fn fn, const std::stop_token& stop)
      -> decltype(fn(std::declval<Backend&>(), std::stop_token())) {
    auto route = RouteOf(name);
    if (!route.ok()) return route.status();
    auto result = redis::CallUntilReplaced(
        [&](std::stop_token token) { return fn(*route->node->backend, std::move(token)); }, stop,
        route->node->replaced.get_token());
    const Status status = StatusOf(result);
    const Refusal r = Classify(status);
    if (r != Refusal::kNone) MarkStale(route->routes, status);
    if (r == Refusal::kMoved || r == Refusal::kMigrating) return redis::EndedEarly(result);
    return result;
  }

  void AcquireAsync(const AcquireRequest& request, AcquireCallback done, int attempt) {
    auto route = RouteOf(request.name);
    if (!route.ok()) return done(route.status());
    route->node->backend->async()->TryAcquireAsync(
        request, [self = weak_from_this(), request, routes = route->routes, done = std::move(done),
                  attempt](Result<Lease> result) mutable {
          if (auto me = self.lock(); me && me->Redirected(routes, StatusOf(result), attempt)) {
            return me->AcquireAsync(request, std::move(done), attempt + 1);
          }
          done(std::move(result));
        });
  }
  void ReleaseAsync(const Lease& lease, StatusCallback done, int attempt) {
    auto route = RouteOf(lease.name);
    if (!route.ok()) return done(route.status());
    route->node->backend->async()->ReleaseAsync(
        lease, [self = weak_from_this(), lease, routes = route->routes, done = std::move(done),
                attempt](Status status) mutable {
          if (auto me = self.lock(); me && me->Redirected(routes, status, attempt)) {
            return me->ReleaseAsync(lease, std::move(done), attempt + 1);
          }
          done(std::move(status));
        });
  }
  // True if an asynchronous call that ended in `status` is to be sent again (MOVED).
  bool Redirected(const std::shared_ptr<const Routes>& routes, const Status& status, int attempt) {
    const Refusal r = Classify(status);
    if (r != Refusal::kNone) MarkStale(routes, status);
    return r == Refusal::kMoved && attempt < kMaxAsyncRedirects;
  }

  // Reads the slot map from the node the last MOVED named, the node that answered last,
  // then the seeds, then the masters
  // of the current map, until one gives a map that serves every slot it has to, under an
  // epoch no lower than one already used for that slot (a stale node is passed over).
  // Masters at the address and epoch of a current node keep their backend; others get a
  // new one, and the nodes no longer named are told (`replaced`).
  Result<std::shared_ptr<const Routes>> Refresh() {
    std::lock_guard refreshing(refresh_mu_);
    std::shared_ptr<const Routes> old;
    std::optional<HostPort> moved_to;
    {
      std::lock_guard lock(mu_);
      if (routes_ && !stale_) return routes_;
      old = routes_;
      moved_to = std::exchange(moved_to_, std::nullopt);
    }
    std::vector<HostPort> candidates;
    auto add = [&](const std::string& host, std::uint16_t port) {
      for (const auto& c : candidates) {
        if (c.host == host && c.port == port) return;
      }
      candidates.push_back(HostPort{host, port});
    };
    if (moved_to) add(moved_to->host, moved_to->port);
    if (last_answered_) add(last_answered_->host, last_answered_->port);
    for (const auto& s : options_.seeds) add(s.host, s.port);
    if (old) {
      for (const auto& n : old->nodes) add(n->master.host, n->master.port);
    }
    std::vector<std::string> failures;
    bool all_refused = true;
    for (const auto& c : candidates) {
      auto map = ReadMap(c);
      if (!map.ok()) {
        failures.push_back(map.status().message());
        all_refused = all_refused && map.status().code() == Code::kFailedPrecondition;
        continue;
      }
      auto routes = Build(*map, old);
      if (!routes.ok()) return routes.status();
      last_answered_ = c;
      std::lock_guard lock(mu_);
      routes_ = *routes;
      stale_ = false;
      return routes_;
    }
    std::string list;
    for (const auto& f : failures) list += (list.empty() ? "" : "; ") + f;
    const std::string message =
        fmt::format("no node of the Redis Cluster gave a usable slot map: {}", list);
    return all_refused ? FailedPreconditionError(message) : UnavailableError(message);
  }

  // CLUSTER NODES from the node at `at`, parsed and checked against the epochs used so far.
  Result<redis::SlotMap> ReadMap(const HostPort& at) {
    redis::Client& client = Probe(at);
    auto reply = client.Call({"CLUSTER", "NODES"});
    if (!reply.ok()) return reply.status();
    if (reply->is_error()) {
      if (reply->str.find("cluster support disabled") != std::string::npos) {
        return FailedPreconditionError(
            fmt::format("{} is not a cluster node (cluster-enabled no): use redis:// for it",
                        client.endpoint()));
      }
      return redis::ReplyError(client.endpoint(), *reply);
    }
    auto map = redis::ParseClusterNodes(reply->str, at.host);
    if (!map.ok())
      return UnavailableError(fmt::format("{}: {}", client.endpoint(), map.status().message()));
    if (map->masters.empty() || map->unserved == redis::kClusterSlots) {
      return UnavailableError(fmt::format(
          "{}: names no master serving a slot (cluster not set up yet?)", client.endpoint()));
    }
    for (std::size_t s = 0; s < redis::kClusterSlots; ++s) {
      const auto o = map->owner[s];
      const std::uint64_t epoch = o < 0 ? 0 : map->masters[static_cast<std::size_t>(o)].epoch;
      if (o >= 0 && epoch < floor_[s]) {
        return UnavailableError(fmt::format(
            "{}: gives slot {} to a master of configEpoch {}, below the {} already used for it "
            "(a stale view)",
            client.endpoint(), s, epoch, floor_[s]));
      }
    }
    return map;
  }

  // Routes over `map`: a backend per master, kept from `old` when its address and epoch are
  // the same. Raises the epoch floor of every slot served.
  Result<std::shared_ptr<const Routes>> Build(const redis::SlotMap& map,
                                              const std::shared_ptr<const Routes>& old) {
    auto routes = std::make_shared<Routes>();
    routes->owner = map.owner;
    for (const auto& m : map.masters) {
      std::shared_ptr<Node> node;
      if (old) {
        for (const auto& n : old->nodes) {
          if (n->master == m) node = n;
        }
      }
      if (!node) {
        if (m.epoch > redis::kMaxFencingEpoch) {
          return FailedPreconditionError(fmt::format(
              "{}:{} has configEpoch {}, which does not fit in the 24 bits of a fencing token",
              m.host, m.port, m.epoch));
        }
        RedisOptions o = options_.node;
        o.host = m.host;
        o.port = m.port;
        redis::ClientOptions c = node_client_;
        c.connection.host = m.host;
        c.connection.port = m.port;
        auto backend = redis::MakeBackendOn(o, static_cast<std::uint32_t>(m.epoch),
                                            std::make_unique<redis::Client>(std::move(c)),
                                            HasShardedPubSub(HostPort{m.host, m.port}));
        if (!backend.ok()) return backend.status();
        node = std::make_shared<Node>();
        node->master = m;
        node->backend = *std::move(backend);
      }
      routes->nodes.push_back(std::move(node));
    }
    for (std::size_t s = 0; s < redis::kClusterSlots; ++s) {
      const auto o = map.owner[s];
      if (o >= 0) floor_[s] = std::max(floor_[s], map.masters[static_cast<std::size_t>(o)].epoch);
    }
    if (old) {
      for (const auto& n : old->nodes) {
        bool kept = false;
        for (const auto& k : routes->nodes) kept = kept || k == n;
        if (!kept) n->replaced.request_stop();
      }
    }
    return std::shared_ptr<const Routes>(std::move(routes));
  }

  // Whether the master at `at` has sharded pub/sub (Redis 7: COMMAND INFO SPUBLISH), so
  // that each master's backend publishes and subscribes as that server can (a cluster in
  // a rolling upgrade has both). No answer: plain pub/sub, which every version has.
  bool HasShardedPubSub(const HostPort& at) {
    auto info = Probe(at).Call({"COMMAND", "INFO", "SPUBLISH"});
    return info.ok() && !info->is_error() && !info->elements.empty() &&
           info->elements[0].type != redis::Reply::Type::kNil;
  }

  // A one-connection client to the node at `at`, for CLUSTER NODES; kept.
  redis::Client& Probe(const HostPort& at) {
    auto& client = probes_[fmt::format("{}:{}", at.host, at.port)];
    if (!client) {
      redis::ClientOptions c = node_client_;
      c.pool_size = 1;
      c.connection.host = at.host;
      c.connection.port = at.port;
      client = std::make_unique<redis::Client>(std::move(c));
    }
    return *client;
  }

  const RedisClusterOptions options_;
  const redis::ClientOptions node_client_;  // every node's, but for its host and port
  std::mutex refresh_mu_;                   // one thread reads the map at a time
  // Guarded by refresh_mu_: the probes, the node that answered last, and for every slot the
  // highest configEpoch of a master it was routed to.
  std::map<std::string, std::unique_ptr<redis::Client>> probes_;
  std::optional<HostPort> last_answered_;
  std::array<std::uint64_t, redis::kClusterSlots> floor_{};
  std::mutex mu_;
  std::shared_ptr<const Routes> routes_;  // guarded by mu_
  bool stale_ = false;                    // guarded by mu_: a call found routes_ stale
  std::optional<HostPort> moved_to_;      // guarded by mu_: where the last MOVED pointed
};

}  // namespace

Result<std::shared_ptr<Backend>> MakeRedisClusterBackend(const RedisClusterOptions& options) {
  if (options.seeds.empty()) return InvalidArgumentError("redis+cluster:// needs seed nodes");
  if (options.node.db != 0) {
    return InvalidArgumentError("redis+cluster:// has only database 0");
  }
  auto node_client = redis::MakeClientOptions(options.node);
  if (!node_client.ok()) return node_client.status();
  auto backend = std::make_shared<ClusterBackend>(options, *std::move(node_client));
  DLOCK_RETURN_IF_ERROR(backend->Start());
  return std::shared_ptr<Backend>(std::move(backend));
}

}  // namespace dlock
