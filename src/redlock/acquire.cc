// RedlockBackend::TryAcquire and TryAcquireAsync: round 1 on every instance, then the
// fencing round where the won instances' counters differ.
#include <fmt/format.h>

#include <algorithm>

#include "core/lease_rules.h"
#include "dlock/async_backend.h"
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

RedlockBackend::Tally Count(const redis::Replies& round1) {
  RedlockBackend::Tally out;
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
  const auto valid_until = ValidUntil(clock_->Now(), request.ttl, drift_);
  const auto keys = Keys(request.name);
  redis::Replies round1 = Round(clients_, acquire_, keys, AcquireArgs(request),
                                Steady::now() + InstanceTimeout(request.ttl), WonQuorum());
  const Tally tally = Count(round1);
  if (auto failed = Round1Failure(request, round1, tally, valid_until)) return *failed;
  // Round 2 raises the won instances' counters to the token. Where round 1 already
  // returned the token on every won instance (their counters agree, as they do while
  // every acquire wins every instance), it would change nothing: skipped.
  if (NeedsRaise(tally)) {
    Status raised =
        RaiseFencing(clients_, raise_, keys, request.name, request.owner_id, tally.won, tally.token,
                     quorum_, Steady::now() + InstanceTimeout(request.ttl));
    if (!raised.ok()) {
      ReleaseEverywhere(request.name, request.owner_id, &round1, request.ttl);
      return raised;
    }
  }
  return Granted(request, round1, tally, valid_until);
}

void RedlockBackend::TryAcquireAsync(const AcquireRequest& request, AcquireCallback done) {
  if (Status s = internal::ValidateAcquireRequest(request); !s.ok()) return done(std::move(s));
  retries_->Stop(request.name, request.owner_id);
  const auto valid_until = ValidUntil(clock_->Now(), request.ttl, drift_);
  // The callbacks run on the instances' I/O threads; the backend lives until `done` ran.
  RoundAsync(clients_, acquire_, Keys(request.name), AcquireArgs(request),
             InstanceTimeout(request.ttl), WonQuorum(),
             [this, request, valid_until, done = std::move(done)](redis::Replies round1) mutable {
               const Tally tally = Count(round1);
               if (auto failed = Round1Failure(request, round1, tally, valid_until)) {
                 return done(std::move(*failed));
               }
               if (!NeedsRaise(tally)) return done(Granted(request, round1, tally, valid_until));
               const int quorum = quorum_;
               RoundAsync(
                   clients_, raise_, Keys(request.name),
                   {request.owner_id, std::to_string(tally.token)}, InstanceTimeout(request.ttl),
                   [quorum](const redis::Replies& r) { return CountInts(r, {1}) >= quorum; },
                   [this, request, round1 = std::move(round1), tally, valid_until,
                    done = std::move(done)](redis::Replies raised) {
                     Status outcome = RaiseOutcome(raised, request.name, clients_.size(), quorum_);
                     if (!outcome.ok()) {
                       ReleaseEverywhere(request.name, request.owner_id, &round1, request.ttl);
                       return done(std::move(outcome));
                     }
                     done(Granted(request, round1, tally, valid_until));
                   },
                   &tally.won);
             });
}

redis::Gather::Enough RedlockBackend::WonQuorum() const {
  return [quorum = quorum_](const redis::Replies& r) {
    return std::count_if(r.begin(), r.end(), Won) >= quorum;
  };
}

bool RedlockBackend::NeedsRaise(const Tally& tally) const {
  return options_.strict_fencing && tally.lowest != tally.token;
}

std::optional<Status> RedlockBackend::Round1Failure(const AcquireRequest& request,
                                                    const redis::Replies& round1,
                                                    const Tally& tally,
                                                    Steady::time_point valid_until) {
  if (static_cast<int>(tally.won.size()) >= quorum_ && clock_->Now() < valid_until) {
    return std::nullopt;
  }
  ReleaseEverywhere(request.name, request.owner_id, &round1, request.ttl);
  return AcquireFailure(request.name, round1, static_cast<int>(tally.won.size()));
}

Result<Lease> RedlockBackend::Granted(const AcquireRequest& request, const redis::Replies& round1,
                                      const Tally& tally, Steady::time_point valid_until) {
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
