// The redlock:// backend: making it (connecting to a majority), and what its calls share.
// The calls themselves are in acquire.cc, extend.cc, release.cc, inspect.cc and wait.cc.
#include "redlock/redlock_backend.h"

#include <fmt/format.h>

#include <algorithm>

#include "redis/client/reply_error.h"
#include "redis/common/client_options.h"
#include "redis/common/keys.h"
#include "redis/lua_scripts.h"
#include "redlock/lua_scripts.h"

namespace dlock {
namespace redlock {

using std::chrono::milliseconds;

RedlockBackend::RedlockBackend(RedlockOptions options, Clients clients)
    : options_(std::move(options)),
      clients_(std::move(clients)),
      n_(static_cast<int>(clients_.size())),
      quorum_(n_ / 2 + 1),
      clock_(options_.instances.front().clock),
      prefix_(options_.instances.front().prefix),
      drift_(options_.instances.front().drift),
      holder_(HolderInfo::ThisProcess()),
      // Sent after the files whose functions they use: counter.lua, then redis://'s grant.lua;
      // and, before
      // the release script redis:// shares, no_line.lua in place of redis://'s line.
      acquire_({lua::kCounter, redis::lua::kGrant, lua::kAcquire}),
      raise_({lua::kRaise}),
      extend_({lua::kExtend}),
      inspect_({lua::kInspect}),
      release_script_(std::make_shared<const redis::Script>(
          redis::Script({lua::kNoLine, redis::lua::kPubsub, redis::lua::kRelease}))),
      retake_script_(std::make_shared<const redis::Script>(redis::Script({lua::kRetake}))) {}

std::vector<std::string> RedlockBackend::Keys(const std::string& name) const {
  return {redis::LockKey(prefix_, name), redis::LockKey(prefix_, name, ":fence")};
}

std::string RedlockBackend::Channel(std::string_view name) const {
  return redis::LockKey(prefix_, name, ":released");
}

milliseconds RedlockBackend::DefaultTimeout() const {
  if (options_.instance_timeout.count() > 0) return options_.instance_timeout;
  return options_.instances.front().command_timeout;
}

milliseconds RedlockBackend::InstanceTimeout(milliseconds ttl) const {
  if (options_.instance_timeout.count() > 0) return options_.instance_timeout;
  return std::clamp<milliseconds>(ttl / 20, milliseconds(10), DefaultTimeout());
}

namespace {

// PING on every instance at once: OK once a majority answered; the first refusal
// (password, TLS trust) as kFailedPrecondition; else kUnavailable.
Status PingMajority(const Clients& clients, const RedisOptions& first) {
  const int n = static_cast<int>(clients.size());
  redis::Gather pings(clients.size(),
                      [n](const redis::Replies& r) { return CountAnswered(r) >= n / 2 + 1; });
  for (std::size_t i = 0; i < clients.size(); ++i) clients[i]->CallAsync({"PING"}, pings.Slot(i));
  redis::Replies replies =
      pings.Wait(std::chrono::steady_clock::now() + first.connect_timeout + first.command_timeout);
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
  return OkStatus();
}

}  // namespace
}  // namespace redlock

Result<std::shared_ptr<Backend>> MakeRedlockBackend(const RedlockOptions& options) {
  if (options.instances.empty()) return InvalidArgumentError("redlock:// needs at least one host");
  RedlockOptions o = options;
  for (auto& i : o.instances) {
    if (!i.clock) i.clock = SystemClock();
  }
  redlock::Clients clients;
  for (const auto& i : o.instances) {
    auto client_options = redis::MakeClientOptions(i);
    if (!client_options.ok()) return client_options.status();
    clients.push_back(std::make_unique<redis::Client>(*client_options));
  }
  DLOCK_RETURN_IF_ERROR(redlock::PingMajority(clients, o.instances.front()));
  return std::shared_ptr<Backend>(
      std::make_shared<redlock::RedlockBackend>(std::move(o), std::move(clients)));
}

}  // namespace dlock
