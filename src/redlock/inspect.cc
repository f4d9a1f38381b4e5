// RedlockBackend::Inspect: the lock as a majority of instances sees it.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <utility>

#include "core/lease_rules.h"
#include "redis/common/replies.h"
#include "redlock/redlock_backend.h"

namespace dlock::redlock {
namespace {

bool HeldHere(const std::optional<Result<redis::Reply>>& r) {
  return Answered(r) && !(*r)->elements.empty() && redis::ToInt((*r)->elements[0]) > 0;
}

// The most instances that hold the lock with one same token.
int MostForOneToken(std::string_view name, const redis::Replies& replies) {
  std::map<FencingToken, int> instances;
  int most = 0;
  for (const auto& r : replies) {
    if (!HeldHere(r)) continue;
    auto here = redis::ParseInspectReply(name, **r);
    if (here && here->state.held) most = std::max(most, ++instances[here->state.token]);
  }
  return most;
}

// The instances' answers as one state: held if `quorum` of them hold it, for the
// quorum-th longest TTL, by the holder found on the most instances (the higher token on a
// tie: a failed attempt's key on a minority, not yet released, is not the holder); else
// free, with the highest counter as its token.
LockState Combine(std::string_view name, const redis::Replies& replies, int quorum) {
  LockState state;
  state.name = std::string(name);
  FencingToken counter = 0;
  std::vector<std::chrono::milliseconds> ttls;
  std::map<FencingToken, std::pair<int, HolderInfo>> holders;  // token: instances, holder
  for (const auto& r : replies) {
    if (!Answered(r)) continue;
    auto here = redis::ParseInspectReply(name, **r);
    if (!here) continue;
    counter = std::max(counter, here->counter);
    if (!here->state.held) continue;
    ttls.push_back(here->state.remaining);
    auto& [instances, holder] = holders[here->state.token];
    ++instances;
    holder = here->state.holder;
  }
  int most = 0;
  for (const auto& [token, found] : holders) {  // ascending tokens: a tie goes to the later
    if (found.first >= most) {
      most = found.first;
      state.token = token;
      state.holder = found.second;
    }
  }
  state.held = static_cast<int>(ttls.size()) >= quorum;
  if (state.held) {
    // Held while a majority still has the key: the quorum-th longest TTL.
    std::sort(ttls.rbegin(), ttls.rend());
    state.remaining = ttls[static_cast<std::size_t>(quorum - 1)];
  } else {
    state.holder = {};
    state.token = counter;
  }
  return state;
}

}  // namespace

Result<LockState> RedlockBackend::Inspect(std::string_view name) {
  DLOCK_RETURN_IF_ERROR(ValidateName(name));
  // Decided once one holder (one token) has a majority, or more than N - majority do not
  // hold it; else when every instance answered (a split between holders).
  redis::Replies replies =
      Round(clients_, inspect_, Keys(std::string(name)), {}, Steady::now() + DefaultTimeout(),
            [&](const redis::Replies& r) {
              auto held = std::count_if(r.begin(), r.end(), HeldHere);
              return MostForOneToken(name, r) >= quorum_ || CountAnswered(r) - held > n_ - quorum_;
            });
  if (CountAnswered(replies) < quorum_) {
    return UnavailableError(fmt::format("only {} of {} Redis instances answered ({})",
                                        CountAnswered(replies), n_, FirstError(replies)));
  }
  return Combine(name, replies, quorum_);
}

}  // namespace dlock::redlock
