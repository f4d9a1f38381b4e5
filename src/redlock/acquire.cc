// RedlockBackend::TryAcquire: round 1 on every instance, then the fencing round where the
// won instances' counters differ.
#include <fmt/format.h>

#include <algorithm>

#include "core/lease_rules.h"
#include "redis/common/replies.h"
#include "redlock/fencing.h"
#include "redlock/redlock_backend.h"

namespace dlock::redlock {
namespace {

using redis::ToInt;
using std::chrono::milliseconds;

// Acquire replies are {1, token} (won) or {0, pttl, token, host, pid} (held).
bool Won(const std::optional<Result<redis::Reply>>& r) {
  return Answered(r) && !(*r)->elements.empty() && ToInt((*r)->elements[0]) == 1 &&
         (*r)->elements.size() >= 2;
}

// The instances round 1 won, and the counters they returned: the token is the largest.
struct Tally {
  std::vector<std::size_t> won;
  FencingToken token = 0;
  FencingToken lowest = 0;
};

Tally Count(const redis::Replies& round1) {
  Tally out;
  for (std::size_t i = 0; i < round1.size(); ++i) {
    if (!Won(round1[i])) continue;
    auto counter = static_cast<FencingToken>(ToInt((*round1[i])->elements[1]));
    out.lowest = out.won.empty() ? counter : std::min(out.lowest, counter);
    out.token = std::max(out.token, counter);
    out.won.push_back(i);
  }
  return out;
}

std::vector<std::string> AcquireArgs(const AcquireRequest& request) {
  auto since_ms =
      std::chrono::duration_cast<milliseconds>(request.holder.since.time_since_epoch()).count();
  return {request.owner_id, std::to_string(request.ttl.count()), request.holder.host,
          std::to_string(request.holder.pid), std::to_string(since_ms)};
}

}  // namespace

Result<Lease> RedlockBackend::TryAcquire(const AcquireRequest& request) {
  DLOCK_RETURN_IF_ERROR(internal::ValidateAcquireRequest(request));
  retries_->Stop(request.name, request.owner_id);
  const auto start = clock_->Now();
  const auto valid_until = ValidUntil(start, request.ttl, drift_);
  const auto keys = Keys(request.name);
  redis::Replies round1 = Round(
      clients_, acquire_, keys, AcquireArgs(request), Steady::now() + InstanceTimeout(request.ttl),
      [&](const redis::Replies& r) { return std::count_if(r.begin(), r.end(), Won) >= quorum_; });
  const Tally tally = Count(round1);
  if (static_cast<int>(tally.won.size()) < quorum_ || clock_->Now() >= valid_until) {
    ReleaseEverywhere(request.name, request.owner_id, &round1, request.ttl);
    return AcquireFailure(request.name, round1, static_cast<int>(tally.won.size()));
  }
  // Round 2 raises the won instances' counters to the token. Where round 1 already
  // returned the token on every won instance (their counters agree, as they do while
  // every acquire wins every instance), it would change nothing: skipped.
  if (options_.strict_fencing && tally.lowest != tally.token) {
    Status raised =
        RaiseFencing(clients_, raise_, keys, request.name, request.owner_id, tally.won, tally.token,
                     quorum_, Steady::now() + InstanceTimeout(request.ttl));
    if (!raised.ok()) {
      ReleaseEverywhere(request.name, request.owner_id, &round1, request.ttl);
      return raised;
    }
  }
  if (clock_->Now() >= valid_until) {
    ReleaseEverywhere(request.name, request.owner_id, &round1, request.ttl);
    return UnavailableError(fmt::format(
        "lock '{}': the majority answered after the lease's validity ended", request.name));
  }
  return Lease{request.name, request.owner_id, tally.token, request.ttl, valid_until};
}

Status RedlockBackend::AcquireFailure(const std::string& name, const redis::Replies& round1,
                                      int won) const {
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

}  // namespace dlock::redlock
