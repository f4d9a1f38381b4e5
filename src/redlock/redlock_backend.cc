// The redlock:// backend: every operation goes to all instances at once and succeeds on a
// majority; fencing tokens are made strict by a second round (see backends/redlock.h).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "core/lease_rules.h"
#include "dlock/backends/redlock.h"
#include "dlock/duration.h"
#include "redis/client/client.h"
#include "redis/client/gather.h"
#include "redis/client/reply_error.h"
#include "redis/client_options.h"
#include "redis/keys.h"
#include "redis/lua_scripts.h"
#include "redis/replies.h"
#include "redis/uri_options.h"
#include "redlock/lua_scripts.h"

namespace dlock {
namespace {

using redis::Reply;
using redis::ToInt;
using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;
using redis::Gather;
using redis::Replies;

bool Answered(const std::optional<Result<Reply>>& r) { return r && r->ok() && !(*r)->is_error(); }

// Replies that are integers equal to one of `values`.
int CountInts(const Replies& replies, std::initializer_list<std::int64_t> values) {
  int n = 0;
  for (const auto& r : replies) {
    if (!Answered(r)) continue;
    std::int64_t v = ToInt(**r);
    n += std::find(values.begin(), values.end(), v) != values.end();
  }
  return n;
}

int CountAnswered(const Replies& replies) {
  return static_cast<int>(std::count_if(replies.begin(), replies.end(), Answered));
}

// Acquire replies are {1, token} (won) or {0, pttl, token, host, pid} (held).
bool Won(const std::optional<Result<Reply>>& r) {
  return Answered(r) && !(*r)->elements.empty() && ToInt((*r)->elements[0]) == 1 &&
         (*r)->elements.size() >= 2;
}

// The first failure among the replies, for messages.
std::string FirstError(const Replies& replies) {
  for (const auto& r : replies) {
    if (r && !r->ok()) return r->status().message();
    if (r && r->ok() && (*r)->is_error()) return (*r)->str;
  }
  return "no reply in time";
}

class RedlockBackend final : public Backend {
 public:
  RedlockBackend(RedlockOptions options, std::vector<std::unique_ptr<redis::Client>> clients)
      : options_(std::move(options)),
        clients_(std::move(clients)),
        n_(static_cast<int>(clients_.size())),
        quorum_(n_ / 2 + 1),
        clock_(options_.instances.front().clock),
        prefix_(options_.instances.front().prefix),
        holder_(HolderInfo::ThisProcess()),
        // Sent after the files whose functions they use: redis://'s grant.lua; and, before
        // the release script redis:// shares, no_line.lua in place of redis://'s line.
        acquire_({redis::lua::kGrant, redlock::lua::kAcquire}),
        raise_({redlock::lua::kRaise}),
        extend_({redlock::lua::kExtend}),
        inspect_({redlock::lua::kInspect}),
        release_script_(std::make_shared<const redis::Script>(
            redis::Script({redlock::lua::kNoLine, redis::lua::kRelease}))),
        retake_script_(
            std::make_shared<const redis::Script>(redis::Script({redlock::lua::kRetake}))) {}

  Result<Lease> TryAcquire(const AcquireRequest& request) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateAcquireRequest(request));
    StopRetries(request.name, request.owner_id);
    const auto start = clock_->Now();
    const auto valid_until = ValidUntil(start, request.ttl);
    const auto deadline = Steady::now() + InstanceTimeout(request.ttl);
    auto since_ms =
        std::chrono::duration_cast<milliseconds>(request.holder.since.time_since_epoch()).count();
    Replies round1 =
        All(acquire_, request.name,
            {request.owner_id, std::to_string(request.ttl.count()), request.holder.host,
             std::to_string(request.holder.pid), std::to_string(since_ms)},
            deadline,
            [&](const Replies& r) { return std::count_if(r.begin(), r.end(), Won) >= quorum_; });
    std::vector<std::size_t> won;
    FencingToken token = 0;
    FencingToken lowest = 0;
    for (std::size_t i = 0; i < round1.size(); ++i) {
      if (!Won(round1[i])) continue;
      auto counter = static_cast<FencingToken>(ToInt((*round1[i])->elements[1]));
      lowest = won.empty() ? counter : std::min(lowest, counter);
      token = std::max(token, counter);
      won.push_back(i);
    }
    if (static_cast<int>(won.size()) < quorum_ || clock_->Now() >= valid_until) {
      ReleaseEverywhere(request.name, request.owner_id, &round1, request.ttl);
      return AcquireFailure(request.name, round1, static_cast<int>(won.size()));
    }
    // Round 2 raises the won instances' counters to the token. Where round 1 already
    // returned the token on every won instance (their counters agree, as they do while
    // every acquire wins every instance), it would change nothing: skipped.
    if (options_.strict_fencing && lowest != token) {
      Gather round2(clients_.size(),
                    [&](const Replies& r) { return CountInts(r, {1}) >= quorum_; });
      for (std::size_t i : won) {
        clients_[i]->EvalAsync(raise_, Keys(request.name),
                               {request.owner_id, std::to_string(token)}, round2.Slot(i));
      }
      Replies raised = round2.Wait(Steady::now() + InstanceTimeout(request.ttl));
      int confirmed = CountInts(raised, {1});
      if (confirmed < quorum_) {
        ReleaseEverywhere(request.name, request.owner_id, &round1, request.ttl);
        return UnavailableError(fmt::format(
            "lock '{}': the fencing round was confirmed by only {} of {} Redis instances ({})",
            request.name, confirmed, n_, FirstError(raised)));
      }
    }
    if (clock_->Now() >= valid_until) {
      ReleaseEverywhere(request.name, request.owner_id, &round1, request.ttl);
      return UnavailableError(fmt::format(
          "lock '{}': the majority answered after the lease's validity ended", request.name));
    }
    return Lease{request.name, request.owner_id, token, request.ttl, valid_until};
  }

  Result<Lease> Extend(const Lease& lease, milliseconds ttl) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    DLOCK_RETURN_IF_ERROR(ValidateTtl(ttl));
    const auto start = clock_->Now();
    // Instances that lost the key (say, restarted) take it again once a majority extended,
    // so that the majority does not erode; a lock gone from a majority is not taken back
    // (force release). An instance answering after the decision is handled by its own
    // callback: exactly one of the two sends its re-take (under retake->mu).
    struct Retake {
      std::mutex mu;
      bool majority = false;
      std::vector<bool> absent;
    };
    auto retake = std::make_shared<Retake>();
    retake->absent.resize(clients_.size());
    auto keys = Keys(lease.name);
    auto since_ms =
        std::chrono::duration_cast<milliseconds>(holder_.since.time_since_epoch()).count();
    std::vector<std::string> retake_args = {
        lease.owner_id, std::to_string(ttl.count()), std::to_string(lease.token),
        holder_.host,   std::to_string(holder_.pid), std::to_string(since_ms)};
    // Captures no `this`: it may run on a client's I/O thread after this call returned.
    auto send_retake = [keys, retake_args, script = retake_script_](redis::Client* client) {
      client->EvalAsync(
          *script, keys, retake_args, [](Result<Reply>) {}, /*send_source=*/true);
    };
    Gather gather(clients_.size(), [&](const Replies& r) { return CountInts(r, {1}) >= quorum_; });
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      clients_[i]->EvalAsync(extend_, keys, {lease.owner_id, std::to_string(ttl.count())},
                             [slot = gather.Slot(i), retake, i, client = clients_[i].get(),
                              send_retake](Result<Reply> r) {
                               bool absent = r.ok() && !r->is_error() && ToInt(*r) == -1;
                               bool send = false;
                               {
                                 std::lock_guard lock(retake->mu);
                                 retake->absent[i] = absent;
                                 send = absent && retake->majority;
                               }
                               if (send) send_retake(client);
                               slot(std::move(r));
                             });
    }
    Replies replies = gather.Wait(Steady::now() + InstanceTimeout(ttl));
    int extended = CountInts(replies, {1});
    Lease out{lease.name, lease.owner_id, lease.token, ttl, ValidUntil(start, ttl)};
    // Short of a majority, with some instances still ours and others free of the key (a
    // grant that won on fewer than all, then a minority cut off): take the free ones now
    // and count them. Only while the lease being extended is still valid (so our keys
    // hold a majority and nobody else can have been granted it), and the re-take refuses
    // an instance whose counter passed our token (a grant there since ours). None is
    // taken back when no instance has our key any more (a force release, an expiry), nor
    // for a lease without a validity (`dlock extend` from another process).
    if (extended > 0 && extended < quorum_ && extended + CountInts(replies, {-1}) >= quorum_ &&
        clock_->Now() < lease.valid_until) {
      Gather again(clients_.size(),
                   [&](const Replies& r) { return extended + CountInts(r, {1}) >= quorum_; });
      for (std::size_t i = 0; i < replies.size(); ++i) {
        if (Answered(replies[i]) && ToInt(**replies[i]) == -1) {
          clients_[i]->EvalAsync(*retake_script_, keys, retake_args, again.Slot(i),
                                 /*send_source=*/true);
        }
      }
      Replies retaken = again.Wait(Steady::now() + InstanceTimeout(ttl));
      extended += CountInts(retaken, {1});
    }
    if (extended >= quorum_ && clock_->Now() < out.valid_until) {
      std::vector<std::size_t> now_absent;
      {
        std::lock_guard lock(retake->mu);
        retake->majority = true;
        for (std::size_t i = 0; i < retake->absent.size(); ++i) {
          if (retake->absent[i]) now_absent.push_back(i);
        }
      }
      for (std::size_t i : now_absent) send_retake(clients_[i].get());
      return out;
    }
    int unanswered = n_ - CountAnswered(replies);
    if (extended + unanswered < quorum_) {
      return NotHeldError(fmt::format("lock '{}' is not held by this owner", lease.name));
    }
    return UnavailableError(
        fmt::format("lock '{}' was extended on only {} of {} Redis instances ({})", lease.name,
                    extended, n_, FirstError(replies)));
  }

  Status Release(const Lease& lease) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    return ReleaseWaiting(lease.name, lease.owner_id, "is not held by this owner");
  }

  Status ForceRelease(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    return ReleaseWaiting(std::string(name), "", "is not held");
  }

  Result<LockState> Inspect(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    // Decided once a majority holds it, or more than N - majority do not.
    auto held_here = [](const std::optional<Result<Reply>>& r) {
      return Answered(r) && !(*r)->elements.empty() && ToInt((*r)->elements[0]) > 0;
    };
    Replies replies = All(inspect_, std::string(name), {}, Steady::now() + DefaultTimeout(),
                          [&](const Replies& r) {
                            auto held = std::count_if(r.begin(), r.end(), held_here);
                            return held >= quorum_ || CountAnswered(r) - held > n_ - quorum_;
                          });
    if (CountAnswered(replies) < quorum_) {
      return UnavailableError(fmt::format("only {} of {} Redis instances answered ({})",
                                          CountAnswered(replies), n_, FirstError(replies)));
    }
    LockState state;
    state.name = std::string(name);
    FencingToken counter = 0;
    std::vector<std::chrono::milliseconds> ttls;
    for (const auto& r : replies) {
      if (!Answered(r)) continue;
      auto here = redis::ParseInspectReply(name, **r);
      if (!here) continue;
      counter = std::max(counter, here->counter);
      if (!here->state.held) continue;
      ttls.push_back(here->state.remaining);
      if (here->state.token >= state.token) {
        state.token = here->state.token;
        state.holder = here->state.holder;
      }
    }
    state.held = static_cast<int>(ttls.size()) >= quorum_;
    if (state.held) {
      // Held while a majority still has the key: the quorum-th longest TTL.
      std::sort(ttls.rbegin(), ttls.rend());
      state.remaining = ttls[static_cast<std::size_t>(quorum_ - 1)];
    } else {
      state.holder = {};
      state.token = counter;
    }
    return state;
  }

  Status WaitForRelease(std::string_view name, Steady::time_point deadline,
                        std::stop_token stop) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    // Subscribe on every instance, then look: a release in between is seen either way.
    auto waiter = std::make_shared<redis::Waiter>();
    std::vector<std::unique_ptr<redis::Subscription>> subs;
    for (auto& c : clients_) {
      subs.push_back(c->Subscribe(redis::LockKey(prefix_, name, ":released"), waiter));
    }
    const int tolerable = n_ - quorum_;
    auto outcome = [&]() -> Status {
      if (stop.stop_requested()) return CancelledError("wait cancelled");
      std::lock_guard lock(waiter->mu);
      if (waiter->errors > tolerable) return waiter->error;
      return DeadlineExceededError("still held at the deadline");
    };
    auto failed = [&] {
      std::lock_guard lock(waiter->mu);
      return waiter->errors > tolerable;
    };
    if (!waiter->Wait([&] { return waiter->confirmed >= quorum_ || waiter->errors > tolerable; },
                      deadline, stop) ||
        failed()) {
      return outcome();
    }
    // Free when a majority of instances answer without a key: only then can an acquisition
    // win. Each release publishes once per instance, so one message may come while most
    // instances still hold the key: look again after every message, or the caller would
    // spend an attempt per instance. A paused instance must not hold every waiter up: wait
    // for its answer only briefly.
    for (;;) {
      int seen = 0;
      {
        std::lock_guard lock(waiter->mu);
        seen = waiter->messages;
      }
      auto look_until = Steady::now() + std::min<milliseconds>(DefaultTimeout(), milliseconds(250));
      Replies replies =
          All(inspect_, std::string(name), {}, look_until, [](const Replies&) { return false; });
      const int answered = CountAnswered(replies);
      if (answered < quorum_) {
        return UnavailableError(fmt::format("only {} of {} Redis instances answered ({})", answered,
                                            n_, FirstError(replies)));
      }
      std::vector<std::int64_t> held_ms;  // remaining TTLs where the key still exists
      for (const auto& r : replies) {
        if (!Answered(r) || (*r)->elements.empty()) continue;
        if (auto ttl = ToInt((*r)->elements[0]); ttl > 0) held_ms.push_back(ttl);
      }
      const int missing = quorum_ - (answered - static_cast<int>(held_ms.size()));
      if (missing <= 0) return OkStatus();
      // Without a release, a majority is free when the missing-th shortest key expires.
      std::nth_element(held_ms.begin(), held_ms.begin() + (missing - 1), held_ms.end());
      auto expires = clock_->Now() + milliseconds(held_ms[missing - 1]);
      bool woke =
          waiter->Wait([&] { return waiter->messages > seen || waiter->errors > tolerable; },
                       std::min(deadline, expires), stop);
      if (failed() || stop.stop_requested()) return outcome();
      if (!woke && clock_->Now() < expires) return outcome();
    }
  }

  std::string_view kind() const override { return "redlock"; }

 private:
  std::vector<std::string> Keys(const std::string& name) const {
    return {redis::LockKey(prefix_, name), redis::LockKey(prefix_, name, ":fence")};
  }

  milliseconds DefaultTimeout() const {
    if (options_.instance_timeout.count() > 0) return options_.instance_timeout;
    return options_.instances.front().command_timeout;
  }

  // A small fraction of the TTL, so that a slow instance does not eat the validity.
  milliseconds InstanceTimeout(milliseconds ttl) const {
    if (options_.instance_timeout.count() > 0) return options_.instance_timeout;
    return std::clamp<milliseconds>(ttl / 20, milliseconds(10), DefaultTimeout());
  }

  Replies All(const redis::Script& script, const std::string& name,
              const std::vector<std::string>& args, Steady::time_point deadline,
              const std::function<bool(const Replies&)>& enough) {
    Gather gather(clients_.size(), enough);
    auto keys = Keys(name);
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      clients_[i]->EvalAsync(script, keys, args, gather.Slot(i));
    }
    return gather.Wait(deadline);
  }

  // On every instance, also those that did not answer: fire and forget. An instance that
  // did not answer `round1` (paused, slow, unreachable) may still run our acquire later,
  // so the release is sent again at growing intervals until the lock's TTL has passed.
  void ReleaseEverywhere(const std::string& name, const std::string& owner,
                         const Replies* round1 = nullptr, milliseconds ttl = milliseconds(0)) {
    auto keys = Keys(name);
    std::vector<std::string> args = {owner, redis::LockKey(prefix_, name, ":released")};
    const auto give_up = Steady::now() + ttl;
    std::shared_ptr<bool> stop;  // the retries' flag, if any instance's outcome is unknown
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      bool unknown = round1 != nullptr && !Answered((*round1)[i]);
      if (unknown) {
        if (!stop) stop = TrackRetries(name, owner);
        ReleaseUntil(clients_[i].get(), release_script_, keys, args, give_up, milliseconds(100),
                     retries_, stop);
      } else {
        // EVAL, not EVALSHA: a NOSCRIPT retry would run after the next attempt's acquire.
        clients_[i]->EvalAsync(
            *release_script_, keys, args, [](Result<Reply>) {},
            /*send_source=*/true);
      }
    }
  }

  // Background releases of a failed attempt carry its owner id, which the caller's next
  // attempt reuses: they must stop before that attempt starts, or a late one deletes
  // the key it won (found by the fault suite's late replies). Each is posted to its
  // client under `mu`, so one posted before StopRetries also reaches the connection
  // ahead of the next attempt's commands (same shard, EVAL: in order).
  struct Retries {
    std::mutex mu;
    std::map<std::string, std::weak_ptr<bool>> flags;  // guarded by mu: name\0owner
  };

  std::shared_ptr<bool> TrackRetries(const std::string& name, const std::string& owner) {
    auto stop = std::make_shared<bool>(false);
    std::lock_guard lock(retries_->mu);
    if (retries_->flags.size() > 1024)
      std::erase_if(retries_->flags, [](auto& f) { return f.second.expired(); });
    retries_->flags[name + '\0' + owner] = stop;
    return stop;
  }

  void StopRetries(const std::string& name, const std::string& owner) {
    std::lock_guard lock(retries_->mu);
    auto it = retries_->flags.find(name + '\0' + owner);
    if (it == retries_->flags.end()) return;
    if (auto stop = it->second.lock()) *stop = true;  // guarded by mu
    retries_->flags.erase(it);
  }

  // Captures no `this`: it runs on the client's I/O thread, which stops with the client.
  static void ReleaseUntil(redis::Client* client, std::shared_ptr<const redis::Script> script,
                           std::vector<std::string> keys, std::vector<std::string> args,
                           Steady::time_point give_up, milliseconds delay,
                           std::shared_ptr<Retries> retries, std::shared_ptr<bool> stop) {
    std::lock_guard lock(retries->mu);
    if (*stop) return;
    const redis::Script& s = *script;
    client->EvalAsync(
        s, keys, args,
        [client, script = std::move(script), keys, args, give_up, delay, retries,
         stop](Result<Reply> r) mutable {
          if (r.ok() && !r->is_error() && ToInt(*r) == 1) return;
          if (Steady::now() + delay >= give_up) return;
          client->After(delay, [=]() mutable {
            ReleaseUntil(client, std::move(script), std::move(keys), std::move(args), give_up,
                         std::min<milliseconds>(delay * 2, std::chrono::seconds(2)),
                         std::move(retries), std::move(stop));
          });
        },
        /*send_source=*/true);
  }

  Status ReleaseWaiting(const std::string& name, const std::string& owner,
                        std::string_view not_held) {
    // Decided when a majority released it, or when even the instances that have not
    // answered could not make one; the rest go on in the background.
    auto decided = [&](const Replies& r) {
      int released = CountInts(r, {1});
      return released >= quorum_ || released + (n_ - CountAnswered(r)) < quorum_;
    };
    Replies replies =
        All(*release_script_, name, {owner, redis::LockKey(prefix_, name, ":released")},
            Steady::now() + DefaultTimeout(), decided);
    int released = CountInts(replies, {1});
    int unanswered = n_ - CountAnswered(replies);
    if (released >= quorum_ || (released > 0 && released + unanswered >= quorum_)) {
      return OkStatus();
    }
    if (CountAnswered(replies) < quorum_) {
      return UnavailableError(fmt::format("lock '{}': only {} of {} Redis instances answered ({})",
                                          name, CountAnswered(replies), n_, FirstError(replies)));
    }
    return NotHeldError(fmt::format("lock '{}' {}", name, not_held));
  }

  Status AcquireFailure(const std::string& name, const Replies& round1, int won) const {
    int answered = CountAnswered(round1);
    if (answered < quorum_) {
      return UnavailableError(
          fmt::format("lock '{}': only {} of {} Redis instances answered in time ({})", name,
                      answered, n_, FirstError(round1)));
    }
    for (const auto& r : round1) {
      if (Answered(r) && !Won(r) && (*r)->elements.size() >= 5) {
        const auto& e = (*r)->elements;
        return ContendedError(
            fmt::format("lock '{}' is held by host {} pid {} (token {}); won {} of {} instances",
                        name, e[3].str, e[4].str, e[2].str, won, n_));
      }
    }
    return ContendedError(
        fmt::format("lock '{}': won only {} of {} instances (need {})", name, won, n_, quorum_));
  }

  const RedlockOptions options_;
  const std::vector<std::unique_ptr<redis::Client>> clients_;
  const int n_;
  const int quorum_;
  const std::shared_ptr<Clock> clock_;
  const std::string prefix_;
  const HolderInfo holder_;
  const redis::Script acquire_, raise_, extend_, inspect_;
  const std::shared_ptr<const redis::Script> release_script_;  // shared with retries
  const std::shared_ptr<const redis::Script> retake_script_;   // shared with callbacks
  const std::shared_ptr<Retries> retries_ = std::make_shared<Retries>();
};

}  // namespace

Result<RedlockOptions> RedlockOptionsFromUri(const BackendUri& uri) {
  RedlockOptions out;
  bool tls = false;
  if (auto it = uri.query.find("tls"); it != uri.query.end()) {
    if (it->second != "true" && it->second != "false" && !it->second.empty()) {
      return InvalidArgumentError("option 'tls' takes true or false");
    }
    tls = it->second != "false";
  }
  if (auto it = uri.query.find("instance_timeout"); it != uri.query.end()) {
    auto d = ParseDuration(it->second);
    if (!d.ok()) return d.status();
    if (d->count() <= 0) return InvalidArgumentError("instance_timeout must be positive");
    out.instance_timeout = *d;
  }
  if (auto it = uri.query.find("fencing"); it != uri.query.end()) {
    if (it->second != "strict" && it->second != "off") {
      return InvalidArgumentError("option 'fencing' takes strict or off");
    }
    out.strict_fencing = it->second == "strict";
  }
  for (const auto& hp : uri.hosts) {
    RedisOptions o;
    o.host = hp.host;
    if (hp.port != 0) o.port = hp.port;
    DLOCK_RETURN_IF_ERROR(redis::ApplyUri(uri, tls, o, {"tls", "instance_timeout", "fencing"}));
    out.instances.push_back(std::move(o));
  }
  return out;
}

Result<std::shared_ptr<Backend>> MakeRedlockBackend(const RedlockOptions& options) {
  if (options.instances.empty()) return InvalidArgumentError("redlock:// needs at least one host");
  RedlockOptions o = options;
  for (auto& i : o.instances) {
    if (!i.clock) i.clock = SystemClock();
  }
  std::vector<std::unique_ptr<redis::Client>> clients;
  for (const auto& i : o.instances) {
    auto client_options = redis::MakeClientOptions(i);
    if (!client_options.ok()) return client_options.status();
    clients.push_back(std::make_unique<redis::Client>(*client_options));
  }
  const int n = static_cast<int>(clients.size());
  Gather pings(clients.size(), [n](const Replies& r) { return CountAnswered(r) >= n / 2 + 1; });
  for (std::size_t i = 0; i < clients.size(); ++i) clients[i]->CallAsync({"PING"}, pings.Slot(i));
  const auto& first = o.instances.front();
  Replies replies = pings.Wait(Steady::now() + first.connect_timeout + first.command_timeout);
  for (std::size_t i = 0; i < replies.size(); ++i) {
    const auto& r = replies[i];
    if (r && !r->ok() && r->status().code() == Code::kFailedPrecondition) return r->status();
    if (r && r->ok() && (*r)->is_error()) {
      Status s = redis::ReplyError(clients[i]->endpoint(), **r);
      if (s.code() == Code::kFailedPrecondition) return s;
    }
  }
  if (CountAnswered(replies) < n / 2 + 1) {
    return UnavailableError(fmt::format("only {} of {} Redis instances answered ({})",
                                        CountAnswered(replies), n, FirstError(replies)));
  }
  return std::shared_ptr<Backend>(
      std::make_shared<RedlockBackend>(std::move(o), std::move(clients)));
}

}  // namespace dlock
