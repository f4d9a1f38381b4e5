// The redis:// and rediss:// backend: Lua scripts over a pipelined client, and waiting
// by pub/sub on the lock's channel.
#include <fmt/format.h>

#include <charconv>
#include <cstdio>

#include "core/lock_record.h"
#include "dlock/backends/redis.h"
#include "dlock/duration.h"
#include "redis/client.h"
#include "redis/common.h"
#include "redis/scripts.h"

namespace dlock {
namespace {

using redis::Reply;
using redis::ToInt;
using std::chrono::milliseconds;

class RedisBackend final : public Backend {
 public:
  RedisBackend(RedisOptions options, std::unique_ptr<redis::Client> client)
      : options_(std::move(options)),
        client_(std::move(client)),
        acquire_(redis::kAcquireScript),
        extend_(redis::kExtendScript),
        release_(redis::kReleaseScript),
        inspect_(redis::kInspectScript) {}

  Result<Lease> TryAcquire(const AcquireRequest& request) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateAcquireRequest(request));
    auto since_ms =
        std::chrono::duration_cast<milliseconds>(request.holder.since.time_since_epoch()).count();
    const auto start = options_.clock->Now();
    auto reply = Run(acquire_, request.name,
                     {request.owner_id, std::to_string(request.ttl.count()), request.holder.host,
                      std::to_string(request.holder.pid), std::to_string(since_ms)});
    if (!reply.ok()) return reply.status();
    if (reply->elements.size() < 2) return redis::ReplyError(client_->endpoint(), *reply);
    if (ToInt(reply->elements[0]) == 0 && reply->elements.size() >= 5) {
      return ContendedError(fmt::format("lock '{}' is held by host {} pid {} (token {})",
                                        request.name, reply->elements[3].str,
                                        reply->elements[4].str, reply->elements[2].str));
    }
    Lease lease{request.name, request.owner_id,
                static_cast<FencingToken>(ToInt(reply->elements[1])), request.ttl,
                ValidUntil(start, request.ttl)};
    if (options_.clock->Now() >= lease.valid_until) {
      Release(lease).IgnoreError();  // the reply came too late to be of use
      return UnavailableError(
          fmt::format("{}: the reply came after the lease's validity ended", client_->endpoint()));
    }
    return lease;
  }

  Result<Lease> Extend(const Lease& lease, milliseconds ttl) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    DLOCK_RETURN_IF_ERROR(ValidateTtl(ttl));
    const auto start = options_.clock->Now();
    auto reply = Run(extend_, lease.name, {lease.owner_id, std::to_string(ttl.count())});
    if (!reply.ok()) return reply.status();
    if (reply->type == Reply::Type::kNil) {
      return NotHeldError(fmt::format("lock '{}' is not held by this owner", lease.name));
    }
    if (reply->is_error()) return redis::ReplyError(client_->endpoint(), *reply);
    return Lease{lease.name, lease.owner_id, static_cast<FencingToken>(ToInt(*reply)), ttl,
                 ValidUntil(start, ttl)};
  }

  Status Release(const Lease& lease) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    return ReleaseAs(lease.name, lease.owner_id, "is not held by this owner");
  }

  Status ForceRelease(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    return ReleaseAs(std::string(name), "", "is not held");
  }

  Result<LockState> Inspect(std::string_view name) override {
    auto state = Look(name);
    if (!state.ok()) return state;
    // Waiting processes are subscribed to the lock's channel (one connection each).
    auto numsub = client_->Call({"PUBSUB", "NUMSUB", Key(name, ":released")});
    if (numsub.ok() && numsub->elements.size() == 2) {
      state->waiters = static_cast<int>(ToInt(numsub->elements[1]));
    }
    return state;
  }

  Status WaitForRelease(std::string_view name, std::chrono::steady_clock::time_point deadline,
                        std::stop_token stop, std::string_view) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    // Subscribe first, then look: a release in between is seen either way.
    auto sub = client_->Subscribe(Key(name, ":released"));
    auto outcome = [&]() -> Status {
      if (stop.stop_requested()) return CancelledError("wait cancelled");
      if (!sub->error().ok()) return sub->error();
      return DeadlineExceededError("still held at the deadline");
    };
    if (!sub->WaitConfirmed(deadline, stop)) return outcome();
    auto state = Look(name);
    if (!state.ok()) return state.status();
    if (!state->held) return OkStatus();
    auto expires = options_.clock->Now() + state->remaining;
    if (sub->WaitMessage(std::min(deadline, expires), stop)) return OkStatus();
    if (options_.clock->Now() >= expires && !stop.stop_requested() && sub->error().ok()) {
      return OkStatus();
    }
    return outcome();
  }

  BackendCapabilities capabilities() const override { return {.native_wait = true}; }
  std::string_view kind() const override { return "redis"; }

 private:
  std::string Key(std::string_view name, std::string_view suffix = "") const {
    return redis::LockKey(options_.prefix, name, suffix);
  }

  // The lock's state in one round trip (Inspect adds the number of waiters).
  Result<LockState> Look(std::string_view name) {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    auto reply = Run(inspect_, std::string(name), {});
    if (!reply.ok()) return reply.status();
    auto parsed = redis::ParseInspectReply(name, *reply);
    if (!parsed) return redis::ReplyError(client_->endpoint(), *reply);
    return parsed->state;
  }

  Result<Reply> Run(const redis::Script& script, const std::string& name,
                    const std::vector<std::string>& args) {
    auto reply = client_->Eval(script, {Key(name), Key(name, ":fence")}, args);
    if (reply.ok() && reply->is_error()) return redis::ReplyError(client_->endpoint(), *reply);
    return reply;
  }

  Status ReleaseAs(const std::string& name, const std::string& owner, std::string_view not_held) {
    auto reply = Run(release_, name, {owner, Key(name, ":released")});
    if (!reply.ok()) return reply.status();
    if (ToInt(*reply) != 1) return NotHeldError(fmt::format("lock '{}' {}", name, not_held));
    return OkStatus();
  }

  const RedisOptions options_;
  const std::unique_ptr<redis::Client> client_;
  const redis::Script acquire_, extend_, release_, inspect_;
};

}  // namespace

Result<RedisOptions> RedisOptionsFromUri(const BackendUri& uri) {
  if (uri.hosts.size() != 1) {
    return InvalidArgumentError(fmt::format(
        "{}:// takes one host; for several independent servers use redlock://", uri.scheme));
  }
  RedisOptions o;
  o.host = uri.hosts[0].host;
  if (uri.hosts[0].port != 0) o.port = uri.hosts[0].port;
  DLOCK_RETURN_IF_ERROR(redis::ApplyUri(uri, uri.scheme == "rediss", o));
  return o;
}

Result<std::shared_ptr<Backend>> MakeRedisBackend(const RedisOptions& options) {
  RedisOptions o = options;
  if (!o.clock) o.clock = SystemClock();
  auto client_options = redis::MakeClientOptions(o);
  if (!client_options.ok()) return client_options.status();
  auto client = std::make_unique<redis::Client>(*client_options);
  DLOCK_RETURN_IF_ERROR(redis::Ping(*client));
  return std::shared_ptr<Backend>(std::make_shared<RedisBackend>(std::move(o), std::move(client)));
}

}  // namespace dlock
