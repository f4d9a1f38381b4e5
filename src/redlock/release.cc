// RedlockBackend::Release, ReleaseAsync and ForceRelease, and the releases of a failed
// attempt.
#include <fmt/format.h>

#include "core/lease_rules.h"
#include "dlock/async_backend.h"
#include "redis/common/replies.h"
#include "redlock/redlock_backend.h"

namespace dlock::redlock {
namespace {

// A round-1 reply {0, pttl, token, host, pid}: the lock is another owner's there.
bool HeldByAnother(const Result<redis::Reply>& r) {
  return r.ok() && !r->elements.empty() && redis::ToInt(r->elements[0]) == 0;
}

}  // namespace

using std::chrono::milliseconds;

Status RedlockBackend::Release(const Lease& lease) {
  DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
  return ReleaseWaiting(lease.name, lease.owner_id, "is not held by this owner");
}

Status RedlockBackend::ForceRelease(std::string_view name) {
  DLOCK_RETURN_IF_ERROR(ValidateName(name));
  return ReleaseWaiting(std::string(name), "", "is not held");
}

Status RedlockBackend::ReleaseWaiting(const std::string& name, const std::string& owner,
                                      std::string_view not_held) {
  redis::Replies replies = Round(clients_, *release_script_, Keys(name), {owner, Channel(name)},
                                 Steady::now() + DefaultTimeout(), ReleaseDecided());
  return ReleaseOutcome(name, replies, not_held);
}

void RedlockBackend::ReleaseAsync(const Lease& lease, StatusCallback done) {
  if (Status s = internal::ValidateLeaseForCall(lease); !s.ok()) return done(std::move(s));
  RoundAsync(clients_, *release_script_, Keys(lease.name), {lease.owner_id, Channel(lease.name)},
             DefaultTimeout(), ReleaseDecided(),
             [this, name = lease.name, done = std::move(done)](redis::Replies replies) {
               done(ReleaseOutcome(name, replies, "is not held by this owner"));
             });
}

redis::Gather::Enough RedlockBackend::ReleaseDecided() const {
  // Decided when a majority released it, or when even the instances that have not
  // answered could not make one; the rest go on in the background.
  return [n = n_, quorum = quorum_](const redis::Replies& r) {
    int released = CountInts(r, {1});
    return released >= quorum || released + (n - CountAnswered(r)) < quorum;
  };
}

Status RedlockBackend::ReleaseOutcome(const std::string& name, const redis::Replies& replies,
                                      std::string_view not_held) const {
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

void RedlockBackend::ReleaseEverywhere(const std::string& name, const std::string& owner,
                                       const redis::Replies* round1, milliseconds ttl) {
  auto keys = Keys(name);
  std::vector<std::string> args = {owner, Channel(name)};
  const auto give_up = Steady::now() + ttl;
  std::shared_ptr<bool> stop;  // the retries' flag, if any instance's outcome is unknown
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    bool unknown = round1 != nullptr && !Answered((*round1)[i]);
    if (round1 != nullptr && !unknown && HeldByAnother(*(*round1)[i])) continue;
    if (unknown) {
      if (!stop) stop = retries_->Track(name, owner);
      ReleaseRetries::ReleaseUntil(clients_[i].get(), release_script_, keys, args, give_up,
                                   milliseconds(100), retries_, stop);
    } else {
      // EVAL, not EVALSHA: a NOSCRIPT retry would run after the next attempt's acquire.
      clients_[i]->EvalAsync(
          *release_script_, keys, args, [](Result<redis::Reply>) {},
          /*send_source=*/true);
    }
  }
}

}  // namespace dlock::redlock
