// The redis:// and rediss:// backend: Lua scripts over a pipelined client, and waiting
// by pub/sub on the lock's channel. redis+sentinel:// runs one per master it finds
// (redis/redis_backend.h).
#include "redis/redis_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <optional>

#include "core/lease_rules.h"
#include "dlock/async_backend.h"
#include "dlock/backends/redis.h"
#include "dlock/batch_backend.h"
#include "dlock/duration.h"
#include "dlock/queueing_backend.h"
#include "redis/client/client.h"
#include "redis/client/gather.h"
#include "redis/client/reply_error.h"
#include "redis/common/client_options.h"
#include "redis/common/keys.h"
#include "redis/common/replies.h"
#include "redis/lua_scripts.h"

namespace dlock {
namespace {

namespace lua = redis::lua;
using redis::Reply;
using redis::ToInt;
using std::chrono::milliseconds;

// A script that changes the wait line (lua/line.lua) is sent after the tokens' functions
// and their epoch check (lua/token.lua, lua/epoch_check.lua), the line's functions, how
// it publishes (lua/pubsub.lua, or lua/pubsub_sharded.lua with `sharded`), and the prelude
// that finds its head and hands the lock off (which grants with lua/grant.lua). The one
// that only reads the line needs token.lua and line.lua alone.
redis::Script OnLine(std::string_view script, bool sharded) {
  return redis::Script({lua::kToken, lua::kEpochCheck, lua::kGrant, lua::kLine,
                        sharded ? lua::kPubsubSharded : lua::kPubsub, lua::kLinePrelude, script});
}

class RedisBackend final : public Backend,
                           public QueueingBackend,
                           public AsyncBackend,
                           public BatchExtendBackend {
 public:
  RedisBackend(RedisOptions options, std::uint32_t epoch, bool sharded,
               std::unique_ptr<redis::Client> client)
      : options_(std::move(options)),
        epoch_(std::to_string(epoch)),
        sharded_(sharded),
        acquire_(OnLine(lua::kLineAcquire, sharded)),
        extend_({lua::kExtend}),
        release_(OnLine(lua::kRelease, sharded)),
        inspect_({lua::kToken, lua::kLine, lua::kLineInspect}),
        leave_(OnLine(lua::kLeaveLine, sharded)),
        client_(std::move(client)) {}

  // The last reference may go in a `done` of an asynchronous call, on the client's I/O
  // thread.
  ~RedisBackend() override { redis::Dispose(std::move(client_)); }

  Result<Lease> TryAcquire(const AcquireRequest& request) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateAcquireRequest(request));
    const auto start = options_.clock->Now();
    std::int64_t acked = 0;
    auto reply =
        RunWaited(acquire_, request.name, AcquireArgs(request, start), /*with_line=*/true, &acked);
    bool too_late = false;
    auto lease = Granted(request, start, std::move(reply), &too_late);
    if (too_late && !request.queue) {
      ReleaseAs(request.name, request.owner_id, kNotOurs).IgnoreError();
    }
    if (lease.ok() && acked < options_.wait_replicas) {
      ReleaseAs(request.name, request.owner_id, kNotOurs).IgnoreError();
      return Unacknowledged("granted, and released again", request.name, acked);
    }
    return lease;
  }

  // The same script as TryAcquire, pipelined: `done` runs on the client's I/O thread.
  void TryAcquireAsync(const AcquireRequest& request, AcquireCallback done) override {
    if (Status valid = internal::ValidateAcquireRequest(request); !valid.ok()) return done(valid);
    const auto start = options_.clock->Now();
    EvalWaitedAsync(
        acquire_, Keys(request.name, /*with_line=*/true), AcquireArgs(request, start),
        [this, request, start, done = std::move(done)](Result<Reply> reply, std::int64_t acked) {
          bool too_late = false;
          auto lease = Granted(request, start, Checked(std::move(reply)), &too_late);
          if (too_late && !request.queue) SendRelease(request.name, request.owner_id, nullptr);
          if (lease.ok() && acked < options_.wait_replicas) {
            SendRelease(request.name, request.owner_id, nullptr);
            lease = Unacknowledged("granted, and released again", request.name, acked);
          }
          done(std::move(lease));
        });
  }

  void ReleaseAsync(const Lease& lease, StatusCallback done) override {
    if (Status valid = internal::ValidateLeaseForCall(lease); !valid.ok()) return done(valid);
    SendRelease(lease.name, lease.owner_id,
                [this, name = lease.name, done = std::move(done)](Result<Reply> reply) {
                  done(Released(name, Checked(std::move(reply)), kNotOurs));
                });
  }

  Result<Lease> Extend(const Lease& lease, milliseconds ttl) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    DLOCK_RETURN_IF_ERROR(ValidateTtl(ttl));
    const auto start = options_.clock->Now();
    std::int64_t acked = 0;
    auto extended = Extended(lease, ttl, start,
                             RunWaited(extend_, lease.name, ExtendArgs(lease, ttl), false, &acked));
    if (extended.ok() && acked < options_.wait_replicas) {
      return Unacknowledged("extended", lease.name, acked);
    }
    return extended;
  }

  // All sent at once over the I/O thread's connections (pipelined), then gathered.
  std::vector<Result<Lease>> ExtendMany(const std::vector<Lease>& leases) override {
    if (leases.size() == 1) return {Extend(leases[0], leases[0].ttl)};
    std::vector<Result<Lease>> out(leases.size(), UnavailableError("not sent"));
    redis::Gather gather(leases.size());
    const auto start = options_.clock->Now();
    std::vector<std::size_t> sent;
    // Written on the I/O thread before each slot's reply, read after the gather.
    auto acked = std::make_shared<std::vector<std::int64_t>>(leases.size(), 0);
    for (std::size_t i = 0; i < leases.size(); ++i) {
      Status valid = internal::ValidateLeaseForCall(leases[i]);
      if (valid.ok()) valid = ValidateTtl(leases[i].ttl);
      if (!valid.ok()) {
        out[i] = valid;
        gather.Slot(i)(valid);
        continue;
      }
      EvalWaitedAsync(extend_, Keys(leases[i].name), ExtendArgs(leases[i], leases[i].ttl),
                      [acked, i, slot = gather.Slot(i)](Result<Reply> r, std::int64_t n) {
                        (*acked)[i] = n;
                        slot(std::move(r));
                      });
      sent.push_back(i);
    }
    // The connections time out stalled replies themselves; this bound only guards.
    redis::Replies replies =
        gather.Wait(std::chrono::steady_clock::now() + options_.connect_timeout +
                    options_.command_timeout + std::chrono::seconds(1));
    for (std::size_t i : sent) {
      Result<Reply> reply = UnavailableError(fmt::format("{}: no reply", client_->endpoint()));
      if (replies[i]) reply = std::move(*replies[i]);
      if (reply.ok() && reply->is_error()) {
        reply = redis::ReplyError(client_->endpoint(), *reply);
      }
      out[i] = Extended(leases[i], leases[i].ttl, start, std::move(reply));
      if (out[i].ok() && replies[i] && (*acked)[i] < options_.wait_replicas) {
        out[i] = Unacknowledged("extended", leases[i].name, (*acked)[i]);
      }
    }
    return out;
  }

  Status Release(const Lease& lease) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    return ReleaseAs(lease.name, lease.owner_id, kNotOurs);
  }

  Status ForceRelease(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    return ReleaseAs(std::string(name), "", "is not held");
  }

  Result<LockState> Inspect(std::string_view name) override {
    auto look = Look(name);
    if (!look.ok()) return look.status();
    return look->state;
  }

  // A waiter in line (`waiter` not empty) returns when the lock is free and it is at the
  // head of the line, and at least every kPlaceRefresh, so that its next attempt renews
  // its place; others at a release or when the holder's TTL runs out.
  Status WaitForRelease(std::string_view name, std::chrono::steady_clock::time_point deadline,
                        std::stop_token stop) override {
    return Wait(name, deadline, std::move(stop), {}, nullptr, nullptr);
  }

  // QueueingBackend: WaitForRelease as the request's waiter in line, and the lock itself when a
  // release hands it over (lua/release.lua).
  Result<std::optional<Lease>> WaitForTurn(const AcquireRequest& request,
                                           std::chrono::steady_clock::time_point deadline,
                                           std::stop_token stop) override {
    std::optional<Lease> granted;
    DLOCK_RETURN_IF_ERROR(Wait(request.name, deadline, std::move(stop),
                               request.queue ? request.owner_id : "", &request, &granted));
    return granted;
  }

  Status LeaveQueue(std::string_view name, std::string_view owner_id) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    auto reply = Run(leave_, std::string(name),
                     {std::string(owner_id), Key(name, ":released"), epoch_}, /*with_line=*/true);
    return reply.ok() ? OkStatus() : reply.status();
  }

  QueueingBackend* queueing() override { return this; }
  AsyncBackend* async() override { return this; }
  BatchExtendBackend* batch() override { return this; }
  std::string_view kind() const override { return "redis"; }
  DriftMargin drift() const override { return options_.drift; }

 private:
  // WaitForRelease; with `request`, a hand-off to request->owner_id becomes *granted.
  Status Wait(std::string_view name, std::chrono::steady_clock::time_point deadline,
              std::stop_token stop, std::string_view waiter, const AcquireRequest* request,
              std::optional<Lease>* granted) {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    // Subscribe first, then look: a release in between is seen either way. A waiter in
    // line listens on its own channel, where it is told once it heads the line (a release,
    // the head leaving): a release wakes one waiter, not every one.
    auto sub =
        client_->Subscribe(waiter.empty() ? Key(name, ":released")
                                          : fmt::format("{}:{}", Key(name, ":released"), waiter),
                           nullptr, sharded_);
    auto outcome = [&]() -> Status {
      if (stop.stop_requested()) return CancelledError("wait cancelled");
      if (!sub->error().ok()) return sub->error();
      return DeadlineExceededError("still held at the deadline");
    };
    // A waiter in line must ask again within its place's lifetime, however slow the
    // subscription.
    const auto start = options_.clock->Now();
    const auto confirm_by = waiter.empty() ? deadline : std::min(deadline, start + kPlaceRefresh);
    if (!sub->WaitConfirmed(confirm_by, stop)) {
      if (!stop.stop_requested() && sub->error().ok() && confirm_by < deadline) {
        return OkStatus();  // go around: renew our place, then wait again
      }
      return outcome();
    }
    auto look = Look(name, waiter);
    if (!look.ok()) return look.status();
    const bool my_turn = look->head.empty() || look->head == waiter;
    // Handed to this waiter already (the message went to an earlier wait): take it.
    if ((!look->state.held && my_turn) || look->mine) return OkStatus();
    const auto now = options_.clock->Now();
    // Held: until a message or its TTL. Free but others are first: until a message (a
    // grant, a release, one leaving the line), looking again every kPlaceRefresh (the
    // head may have crashed). A waiter in line also goes around every kPlaceRefresh to
    // renew its place.
    auto until = deadline;
    if (look->state.held) until = std::min(until, now + look->state.remaining);
    if (!waiter.empty() || !look->state.held) until = std::min(until, now + kPlaceRefresh);
    if (sub->WaitMessage(until, stop)) {
      if (request != nullptr && !waiter.empty())
        *granted = HandedOver(*request, sub->last_message());
      return OkStatus();
    }
    if (!stop.stop_requested() && sub->error().ok() && options_.clock->Now() >= until &&
        until < deadline) {
      return OkStatus();
    }
    return outcome();
  }

  // The lease in a hand-off message ("granted:TOKEN:SENT", see hand_off in
  // lua/line_prelude.lua), or nullopt for another message. The release handed the lock
  // over after it had run this owner's last request, which was sent at SENT
  // (options_.clock, in ns), so the lease is valid from then, as TryAcquire's would be.
  // One with less than half its TTL left is not returned: the caller's next TryAcquire
  // takes it (same owner) with a fresh TTL. (Not released here: a release could reach the
  // server after that attempt, and free the lock it took.)
  // With wait_replicas, none is returned either: the next TryAcquire then waits for the
  // replicas to acknowledge the lock.
  std::optional<Lease> HandedOver(const AcquireRequest& request, std::string_view message) {
    constexpr std::string_view kGranted = "granted:";
    if (!message.starts_with(kGranted) || options_.wait_replicas > 0) return std::nullopt;
    message.remove_prefix(kGranted.size());
    const auto colon = message.find(':');
    FencingToken token = 0;
    std::int64_t sent_ns = 0;
    if (colon == std::string_view::npos || !ParseNumber(message.substr(0, colon), &token) ||
        !ParseNumber(message.substr(colon + 1), &sent_ns)) {
      return std::nullopt;
    }
    const std::chrono::steady_clock::time_point sent{std::chrono::nanoseconds(sent_ns)};
    Lease lease{request.name, request.owner_id, token, request.ttl,
                ValidUntil(sent, request.ttl, options_.drift)};
    const auto now = options_.clock->Now();
    if (sent > now || lease.valid_until - now < request.ttl / 2) return std::nullopt;
    return lease;
  }

  template <typename T>
  static bool ParseNumber(std::string_view text, T* out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc() && end == text.data() + text.size();
  }

  std::string Key(std::string_view name, std::string_view suffix = "") const {
    return redis::LockKey(options_.prefix, name, suffix);
  }

  // A waiter keeps its place in line this long after its last attempt; Locker asks
  // again at least every kPlaceRefresh while it waits.
  static constexpr milliseconds kPlaceTtl{3000};
  static constexpr milliseconds kPlaceRefresh{1000};

  struct Looked {
    LockState state;    // with the number of waiters
    std::string head;   // the owner id first in line; empty: nobody waits
    bool mine = false;  // held by `waiter`
  };
  // The lock's state and line in one round trip.
  Result<Looked> Look(std::string_view name, std::string_view waiter = "") {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    auto reply = Run(inspect_, std::string(name), {std::string(waiter)}, /*with_line=*/true);
    if (!reply.ok()) return reply.status();
    auto parsed = redis::ParseInspectReply(name, *reply);
    if (!parsed || reply->elements.size() < 9) {
      return redis::ReplyError(client_->endpoint(), *reply);
    }
    Looked out{std::move(parsed->state), reply->elements[6].str, ToInt(reply->elements[8]) == 1};
    out.state.waiters = static_cast<int>(ToInt(reply->elements[7]));
    return out;
  }

  static std::vector<std::string> ExtendArgs(const Lease& lease, milliseconds ttl) {
    return {lease.owner_id, std::to_string(ttl.count())};
  }

  // The extend script's reply, sent at `start`, as Extend's result.
  Result<Lease> Extended(const Lease& lease, milliseconds ttl,
                         std::chrono::steady_clock::time_point start, Result<Reply> reply) const {
    if (!reply.ok()) return reply.status();
    if (reply->type == Reply::Type::kNil) {
      return NotHeldError(fmt::format("lock '{}' is not held by this owner", lease.name));
    }
    if (reply->is_error()) return redis::ReplyError(client_->endpoint(), *reply);
    return Lease{lease.name, lease.owner_id, redis::ToToken(*reply), ttl,
                 ValidUntil(start, ttl, options_.drift)};
  }

  static constexpr std::string_view kNotOurs = "is not held by this owner";

  // `start`: when the request is sent; the line keeps it for a hand-off (HandedOver).
  std::vector<std::string> AcquireArgs(const AcquireRequest& request,
                                       std::chrono::steady_clock::time_point start) const {
    auto since_ms =
        std::chrono::duration_cast<milliseconds>(request.holder.since.time_since_epoch()).count();
    return {
        request.owner_id,
        std::to_string(request.ttl.count()),
        request.holder.host,
        std::to_string(request.holder.pid),
        std::to_string(since_ms),
        request.queue ? "1" : "0",
        std::to_string(kPlaceTtl.count()),
        std::to_string(
            std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count()),
        epoch_};
  }

  // The acquire script's reply, sent at `start`, as TryAcquire's result. A grant whose
  // reply came after its validity ended is kUnavailable, with *too_late set: the caller
  // then releases it, unless the request is queued. A queued request is asked again with
  // the same owner id (which renews the grant) or leaves the line (which frees it); a
  // release here could reach the server after that next attempt, over another
  // connection, and free the lock it took.
  Result<Lease> Granted(const AcquireRequest& request, std::chrono::steady_clock::time_point start,
                        Result<Reply> reply, bool* too_late) const {
    if (!reply.ok()) return reply.status();
    const auto& e = reply->elements;
    if (e.size() < 2) return redis::ReplyError(client_->endpoint(), *reply);
    if (ToInt(e[0]) != 1) {
      if (e.size() >= 5) {
        return ContendedError(fmt::format("lock '{}' is held by host {} pid {} (token {})",
                                          request.name, e[3].str, e[4].str, e[2].str));
      }
      if (e.size() >= 3) {
        return ContendedError(
            fmt::format("lock '{}' is free, but goes to the first of the {} "
                        "waiting in line",
                        request.name, ToInt(e[2])));
      }
      return redis::ReplyError(client_->endpoint(), *reply);
    }
    Lease lease{request.name, request.owner_id, redis::ToToken(e[1]), request.ttl,
                ValidUntil(start, request.ttl, options_.drift)};
    if (options_.clock->Now() >= lease.valid_until) {
      *too_late = true;
      return UnavailableError(
          fmt::format("{}: the reply came after the lease's validity ended", client_->endpoint()));
    }
    return lease;
  }

  // The release script's reply as Release's result.
  static Status Released(const std::string& name, Result<Reply> reply, std::string_view not_held) {
    if (!reply.ok()) return reply.status();
    if (ToInt(*reply) != 1) return NotHeldError(fmt::format("lock '{}' {}", name, not_held));
    return OkStatus();
  }

  // `with_line`: the script also gets the wait line's keys (KEYS[3] to KEYS[5]) and the
  // epoch of the lock's last grant (KEYS[6], lua/token.lua).
  std::vector<std::string> Keys(const std::string& name, bool with_line = false) const {
    std::vector<std::string> keys = {Key(name), Key(name, ":fence")};
    if (with_line) {
      keys.insert(keys.end(), {Key(name, ":line"), Key(name, ":places"), Key(name, ":wants"),
                               Key(name, ":epoch")});
    }
    return keys;
  }

  // An error reply as a Status.
  Result<Reply> Checked(Result<Reply> reply) const {
    if (reply.ok() && reply->is_error()) return redis::ReplyError(client_->endpoint(), *reply);
    return reply;
  }

  Result<Reply> Run(const redis::Script& script, const std::string& name,
                    const std::vector<std::string>& args, bool with_line = false) {
    return Checked(client_->Eval(script, Keys(name, with_line), args));
  }

  // Run, then (with wait_replicas) WAIT on the same connection: *acked is how many
  // replicas acknowledged its writes (wait_replicas without WAIT).
  Result<Reply> RunWaited(const redis::Script& script, const std::string& name,
                          const std::vector<std::string>& args, bool with_line,
                          std::int64_t* acked) {
    *acked = options_.wait_replicas;
    if (options_.wait_replicas == 0) return Run(script, name, args, with_line);
    return Checked(client_->EvalWaited(script, Keys(name, with_line), args, options_.wait_replicas,
                                       options_.wait_timeout, acked));
  }

  // EvalAsync, then (with wait_replicas) WAIT, as RunWaited.
  void EvalWaitedAsync(const redis::Script& script, const std::vector<std::string>& keys,
                       const std::vector<std::string>& args, redis::Client::WaitedCallback done) {
    if (options_.wait_replicas == 0) {
      return client_->EvalAsync(
          script, keys, args, [done = std::move(done)](Result<Reply> r) { done(std::move(r), 0); });
    }
    client_->EvalWaitedAsync(script, keys, args, options_.wait_replicas, options_.wait_timeout,
                             std::move(done));
  }

  // A grant or an extension that fewer than wait_replicas replicas acknowledged in time.
  Status Unacknowledged(std::string_view what, const std::string& name, std::int64_t acked) const {
    return UnavailableError(
        fmt::format("{}: lock '{}' was {} on the master, but {} of the {} replicas asked for "
                    "(wait_replicas) acknowledged it within {}",
                    client_->endpoint(), name, what, std::max<std::int64_t>(acked, 0),
                    options_.wait_replicas, FormatDuration(options_.wait_timeout)));
  }

  // The release script without waiting; `done` (null: none) gets its reply on the I/O
  // thread. Uses nothing of this backend after the call, so it may go out unwatched.
  void SendRelease(const std::string& name, const std::string& owner, redis::ReplyCallback done) {
    if (!done) done = [](const Result<Reply>&) {};
    EvalWaitedAsync(
        release_, Keys(name, /*with_line=*/true), {owner, Key(name, ":released"), epoch_},
        [done = std::move(done)](Result<Reply> r, std::int64_t) { done(std::move(r)); });
  }

  Status ReleaseAs(const std::string& name, const std::string& owner, std::string_view not_held) {
    std::int64_t acked = 0;  // a release is done either way
    return Released(name,
                    RunWaited(release_, name, {owner, Key(name, ":released"), epoch_},
                              /*with_line=*/true, &acked),
                    not_held);
  }

  const RedisOptions options_;
  // The failover epoch of this server (decimal): the last argument of every script that may
  // grant (lua/token.lua). "0" for redis://.
  const std::string epoch_;
  const bool sharded_;  // sharded pub/sub (SSUBSCRIBE, SPUBLISH in the scripts)
  const redis::Script acquire_, extend_, release_, inspect_, leave_;
  // Declared last, so destroyed first: its I/O thread stops while the scripts its
  // callbacks use still exist.
  std::unique_ptr<redis::Client> client_;
};

}  // namespace

namespace redis {

Result<std::shared_ptr<Backend>> MakeBackendOn(const RedisOptions& options, std::uint32_t epoch,
                                               std::unique_ptr<Client> client, bool sharded) {
  if (epoch > kMaxFencingEpoch) {
    return FailedPreconditionError(
        fmt::format("failover epoch {} does not fit in the 24 bits of a fencing token", epoch));
  }
  RedisOptions o = options;
  if (!o.clock) o.clock = SystemClock();
  return std::shared_ptr<Backend>(
      std::make_shared<RedisBackend>(std::move(o), epoch, sharded, std::move(client)));
}

Status CheckMaster(Client& client) {
  auto role = client.Call({"ROLE"});
  if (!role.ok()) return role.status();
  if (role->is_error()) return ReplyError(client.endpoint(), *role);
  if (role->elements.empty() || role->elements[0].str != "master") {
    return UnavailableError(
        fmt::format("{} answers ROLE as {}, not master (a stale answer of a sentinel?)",
                    client.endpoint(), role->elements.empty() ? "nothing" : role->elements[0].str));
  }
  return OkStatus();
}

}  // namespace redis

Result<std::shared_ptr<Backend>> MakeRedisBackend(const RedisOptions& options) {
  auto client_options = redis::MakeClientOptions(options);
  if (!client_options.ok()) return client_options.status();
  auto client = std::make_unique<redis::Client>(*client_options);
  DLOCK_RETURN_IF_ERROR(client->Ping());
  return redis::MakeBackendOn(options, /*epoch=*/0, std::move(client));
}

}  // namespace dlock
