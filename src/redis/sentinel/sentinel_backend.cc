// The redis+sentinel:// backend: the redis:// backend (redis/redis_backend.h) on the master
// the sentinels name, replaced by one on the new master when they name another (a
// +switch-master message, or a call that failed), each with the master's config-epoch in
// its tokens.
#include <fmt/format.h>

#include <mutex>
#include <stop_token>

#include "dlock/async_backend.h"
#include "dlock/backends/redis_sentinel.h"
#include "dlock/batch_backend.h"
#include "dlock/queueing_backend.h"
#include "redis/client/client.h"
#include "redis/common/client_options.h"
#include "redis/common/replaceable_call.h"
#include "redis/redis_backend.h"
#include "redis/sentinel/discovery.h"
#include "redis/sentinel/switch_watch.h"

namespace dlock {
namespace {

using std::chrono::milliseconds;

// One master, as the sentinels named it, and the backend on it.
struct Master {
  redis::MasterAddress address;
  std::shared_ptr<Backend> backend;
  std::stop_source replaced;  // requested when a newer master takes its place
};

using redis::StatusOf;

class SentinelBackend final : public Backend,
                              public QueueingBackend,
                              public AsyncBackend,
                              public BatchExtendBackend,
                              public std::enable_shared_from_this<SentinelBackend> {
 public:
  SentinelBackend(RedisSentinelOptions options, redis::ClientOptions master_client,
                  std::vector<std::unique_ptr<redis::Client>> sentinels)
      : options_(std::move(options)),
        master_client_(std::move(master_client)),
        sentinels_(std::move(sentinels)) {
    for (auto& s : sentinels_) sentinel_ptrs_.push_back(s.get());
  }

  ~SentinelBackend() override { watch_.reset(); }

  // Finds the master, then starts following it.
  Status Start() {
    auto master = Resolve(nullptr);
    if (!master.ok()) return master.status();
    watch_ = std::make_unique<redis::SwitchWatch>(sentinel_ptrs_, options_.master_name,
                                                  [this](std::size_t i) { Check(i); });
    return OkStatus();
  }

  Result<Lease> TryAcquire(const AcquireRequest& request) override {
    return OnMaster([&](Backend& b) { return b.TryAcquire(request); });
  }
  Result<Lease> Extend(const Lease& lease, milliseconds ttl) override {
    return OnMaster([&](Backend& b) { return b.Extend(lease, ttl); });
  }
  Status Release(const Lease& lease) override {
    return OnMaster([&](Backend& b) { return b.Release(lease); });
  }
  Status ForceRelease(std::string_view name) override {
    return OnMaster([&](Backend& b) { return b.ForceRelease(name); });
  }
  Result<LockState> Inspect(std::string_view name) override {
    return OnMaster([&](Backend& b) { return b.Inspect(name); });
  }
  // A wait on a master that is replaced meanwhile returns early (OK: the caller asks
  // again, on the new master).
  Status WaitForRelease(std::string_view name, std::chrono::steady_clock::time_point deadline,
                        std::stop_token stop) override {
    return OnMaster(
        [&](Backend& b, std::stop_token until) { return b.WaitForRelease(name, deadline, until); },
        stop);
  }

  Result<std::optional<Lease>> WaitForTurn(const AcquireRequest& request,
                                           std::chrono::steady_clock::time_point deadline,
                                           std::stop_token stop) override {
    return OnMaster(
        [&](Backend& b, std::stop_token until) {
          return b.queueing()->WaitForTurn(request, deadline, until);
        },
        stop);
  }
  Status LeaveQueue(std::string_view name, std::string_view owner_id) override {
    return OnMaster([&](Backend& b) { return b.queueing()->LeaveQueue(name, owner_id); });
  }

  // Asynchronous as redis://'s, except while the master is being looked for after a
  // failover: then the call blocks for that.
  void TryAcquireAsync(const AcquireRequest& request, AcquireCallback done) override {
    auto master = Current();
    if (!master.ok()) return done(master.status());
    (*master)->backend->async()->TryAcquireAsync(request, Watching(*master, std::move(done)));
  }
  void ReleaseAsync(const Lease& lease, StatusCallback done) override {
    auto master = Current();
    if (!master.ok()) return done(master.status());
    (*master)->backend->async()->ReleaseAsync(lease, Watching(*master, std::move(done)));
  }

  std::vector<Result<Lease>> ExtendMany(const std::vector<Lease>& leases) override {
    auto master = Current();
    if (!master.ok()) return std::vector<Result<Lease>>(leases.size(), master.status());
    auto out = (*master)->backend->batch()->ExtendMany(leases);
    for (const auto& r : out) Watch(*master, StatusOf(r));
    return out;
  }

  QueueingBackend* queueing() override { return this; }
  AsyncBackend* async() override { return this; }
  BatchExtendBackend* batch() override { return this; }
  std::string_view kind() const override { return "redis+sentinel"; }
  DriftMargin drift() const override { return options_.master.drift; }

 private:
  // The current master; looked for first if there is none, or the last call failed.
  Result<std::shared_ptr<Master>> Current() {
    {
      std::lock_guard lock(mu_);
      if (current_ && !stale_) return current_;
    }
    return Resolve(nullptr);
  }

  // Asks the sentinels (from sentinel `first`, else the last that answered) for the master,
  // unless another thread has done so since `stale` was seen stale. A master at the address
  // and epoch of the current one keeps its backend; another replaces it.
  Result<std::shared_ptr<Master>> Resolve(const std::optional<std::size_t>& first) {
    std::lock_guard resolving(resolve_mu_);
    {
      std::lock_guard lock(mu_);
      if (current_ && !stale_) return current_;
    }
    const auto deadline = std::chrono::steady_clock::now() + options_.master.connect_timeout;
    auto found = redis::FindMaster(
        sentinel_ptrs_, first.value_or(first_sentinel_), options_.master_name,
        [this](const redis::MasterAddress& a) { return Connect(a); }, deadline);
    if (!found.ok()) return found.status();
    first_sentinel_ = found->sentinel;
    {
      std::lock_guard lock(mu_);
      if (current_ && current_->address == found->address) {
        stale_ = false;
        return current_;
      }
    }
    RedisOptions o = options_.master;
    o.host = found->address.host;
    o.port = found->address.port;
    auto backend = redis::MakeBackendOn(o, found->address.epoch, std::move(found->client));
    if (!backend.ok()) return backend.status();
    auto next = std::make_shared<Master>();
    next->address = found->address;
    next->backend = *std::move(backend);
    std::shared_ptr<Master> old;
    {
      std::lock_guard lock(mu_);
      old = std::exchange(current_, next);
      stale_ = false;
    }
    if (old) old->replaced.request_stop();
    return next;
  }
  Result<std::shared_ptr<Master>> Resolve(std::nullptr_t) { return Resolve(std::nullopt); }

  Result<std::unique_ptr<redis::Client>> Connect(const redis::MasterAddress& a) const {
    redis::ClientOptions c = master_client_;
    c.connection.host = a.host;
    c.connection.port = a.port;
    return std::make_unique<redis::Client>(std::move(c));
  }

  // The watch's check, on its thread: sentinel i's view against ours.
  void Check(std::size_t i) {
    auto named = redis::AskSentinel(*sentinels_[i], options_.master_name);
    if (!named.ok()) return;  // down, or in a failover: its +switch-master will come
    std::shared_ptr<Master> seen;
    {
      std::lock_guard lock(mu_);
      seen = current_;
    }
    if (seen && seen->address == *named) return;
    Watch(seen, UnavailableError("the sentinels name another master"));
    Resolve(i).status().IgnoreError();
  }

  // A call that could not reach the master (or was refused by one that is no longer
  // master: READONLY, DLOCK_EPOCH) makes the next call ask the sentinels again.
  void Watch(const std::shared_ptr<Master>& master, const Status& status) {
    if (status.code() != Code::kUnavailable) return;
    std::lock_guard lock(mu_);
    if (current_ == master) stale_ = true;
  }

  template <typename Fn>
  auto OnMaster(Fn fn) -> decltype(fn(std::declval<Backend&>())) {
    auto master = Current();
    if (!master.ok()) return master.status();
    auto result = fn(*(*master)->backend);
    Watch(*master, StatusOf(result));
    return result;
  }

  // For waits: `fn` gets a stop token that is also requested when the master is replaced;
  // that early end is OK (or no hand-off) for the caller, who asks again.
  template <typename Fn>
  auto OnMaster(Fn fn, const std::stop_token& stop)
      -> decltype(fn(std::declval<Backend&>(), std::stop_token())) {
    auto master = Current();
    if (!master.ok()) return master.status();
    auto result = redis::CallUntilReplaced(
        [&](std::stop_token token) { return fn(*(*master)->backend, std::move(token)); }, stop,
        (*master)->replaced.get_token());
    Watch(*master, StatusOf(result));
    return result;
  }

  // `done` told of failures to reach the master, as OnMaster does; `this` may be gone by
  // then.
  template <typename T>
  std::function<void(T)> Watching(const std::shared_ptr<Master>& master,
                                  std::function<void(T)> done) {
    return [self = weak_from_this(), master, done = std::move(done)](T result) {
      if (auto me = self.lock()) me->Watch(master, StatusOf(result));
      done(std::move(result));
    };
  }

  const RedisSentinelOptions options_;
  const redis::ClientOptions master_client_;  // the master's, but for its host and port
  const std::vector<std::unique_ptr<redis::Client>> sentinels_;
  std::vector<redis::Client*> sentinel_ptrs_;
  std::mutex resolve_mu_;           // one thread asks the sentinels at a time
  std::size_t first_sentinel_ = 0;  // guarded by resolve_mu_: the last that answered
  std::mutex mu_;
  std::shared_ptr<Master> current_;            // guarded by mu_
  bool stale_ = false;                         // guarded by mu_: a call to current_ failed
  std::unique_ptr<redis::SwitchWatch> watch_;  // set once by Start; stopped first
};

}  // namespace

Result<std::shared_ptr<Backend>> MakeRedisSentinelBackend(const RedisSentinelOptions& options) {
  if (options.sentinels.empty()) return InvalidArgumentError("redis+sentinel:// needs sentinels");
  if (options.master_name.empty()) {
    return InvalidArgumentError("redis+sentinel:// needs the master's name");
  }
  auto master_client = redis::MakeClientOptions(options.master);
  if (!master_client.ok()) return master_client.status();
  std::vector<std::unique_ptr<redis::Client>> sentinels;
  for (const auto& s : options.sentinels) {
    redis::ClientOptions c = *master_client;
    c.pool_size = 1;
    c.connection.host = s.host;
    c.connection.port = s.port == 0 ? 26379 : s.port;
    c.connection.user = options.sentinel_user;
    c.connection.password = options.sentinel_password;
    c.connection.db = 0;
    sentinels.push_back(std::make_unique<redis::Client>(std::move(c)));
  }
  auto backend =
      std::make_shared<SentinelBackend>(options, *std::move(master_client), std::move(sentinels));
  DLOCK_RETURN_IF_ERROR(backend->Start());
  return std::shared_ptr<Backend>(std::move(backend));
}

}  // namespace dlock
