#include "redlock/retake.h"

#include <utility>

#include "redis/common/replies.h"

namespace dlock::redlock {
namespace {

bool Absent(const Result<redis::Reply>& r) {
  return r.ok() && !r->is_error() && redis::ToInt(*r) == -1;
}

std::vector<std::string> RetakeArgs(const Lease& lease, std::chrono::milliseconds ttl,
                                    const HolderInfo& holder) {
  auto since_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(holder.since.time_since_epoch())
          .count();
  return {lease.owner_id, std::to_string(ttl.count()), std::to_string(lease.token),
          holder.host,    std::to_string(holder.pid),  std::to_string(since_ms)};
}

}  // namespace

Retake::Retake(std::shared_ptr<const redis::Script> script, std::vector<std::string> keys,
               const Lease& lease, std::chrono::milliseconds ttl, const HolderInfo& holder,
               std::size_t n)
    : state_(std::make_shared<State>()),
      script_(std::move(script)),
      keys_(std::make_shared<const std::vector<std::string>>(std::move(keys))),
      args_(std::make_shared<const std::vector<std::string>>(RetakeArgs(lease, ttl, holder))) {
  state_->absent.resize(n);
}

void Retake::Send(redis::Client* client, const redis::Script& script,
                  const std::vector<std::string>& keys, const std::vector<std::string>& args) {
  client->EvalAsync(
      script, keys, args, [](Result<redis::Reply>) {}, /*send_source=*/true);
}

redis::ReplyCallback Retake::Watch(std::size_t i, redis::Client* client,
                                   redis::ReplyCallback slot) const {
  return [slot = std::move(slot), i, client, state = state_, script = script_, keys = keys_,
          args = args_](Result<redis::Reply> r) {
    const bool absent = Absent(r);
    bool send = false;
    {
      std::lock_guard lock(state->mu);
      state->absent[i] = absent;
      send = absent && state->majority;
    }
    if (send) Send(client, *script, *keys, *args);
    slot(std::move(r));
  };
}

int Retake::TakeAbsent(const Clients& clients, const redis::Replies& replies,
                       const redis::Gather::Enough& enough,
                       std::chrono::steady_clock::time_point deadline) const {
  redis::Gather again(clients.size(), enough);
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (Answered(replies[i]) && Absent(*replies[i])) {
      clients[i]->EvalAsync(*script_, *keys_, *args_, again.Slot(i), /*send_source=*/true);
    }
  }
  return CountInts(again.Wait(deadline), {1});
}

void Retake::MajorityConfirmed(const Clients& clients) const {
  std::vector<std::size_t> absent;
  {
    std::lock_guard lock(state_->mu);
    state_->majority = true;
    for (std::size_t i = 0; i < state_->absent.size(); ++i) {
      if (state_->absent[i]) absent.push_back(i);
    }
  }
  for (std::size_t i : absent) Send(clients[i].get(), *script_, *keys_, *args_);
}

}  // namespace dlock::redlock
