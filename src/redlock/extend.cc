// RedlockBackend::Extend: the extend round, and the re-take that keeps the majority from
// eroding (retake.h).
#include <fmt/format.h>

#include "core/lease_rules.h"
#include "redlock/redlock_backend.h"
#include "redlock/retake.h"

namespace dlock::redlock {

using std::chrono::milliseconds;

Result<Lease> RedlockBackend::Extend(const Lease& lease, milliseconds ttl) {
  DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
  DLOCK_RETURN_IF_ERROR(ValidateTtl(ttl));
  const auto start = clock_->Now();
  const auto keys = Keys(lease.name);
  const Retake retake(retake_script_, keys, lease, ttl, holder_, clients_.size());
  redis::Replies replies = ExtendRound(lease, ttl, keys, retake);
  int extended = CountInts(replies, {1});
  // Short of a majority, with some instances still ours and others free of the key (a
  // grant that won on fewer than all, then a minority cut off): take the free ones now
  // and count them. Only while the lease being extended is still valid (so our keys
  // hold a majority and nobody else can have been granted it), and the re-take refuses
  // an instance whose counter passed our token (a grant there since ours). None is
  // taken back when no instance has our key any more (a force release, an expiry), nor
  // for a lease without a validity (`dlock extend` from another process).
  if (extended > 0 && extended < quorum_ && extended + CountInts(replies, {-1}) >= quorum_ &&
      clock_->Now() < lease.valid_until) {
    const int retaken = retake.TakeAbsent(
        clients_, replies,
        [&](const redis::Replies& r) { return extended + CountInts(r, {1}) >= quorum_; },
        Steady::now() + InstanceTimeout(ttl));
    extended += retaken;
  }
  Lease out{lease.name, lease.owner_id, lease.token, ttl, ValidUntil(start, ttl, drift_)};
  if (extended >= quorum_ && clock_->Now() < out.valid_until) {
    retake.MajorityConfirmed(clients_);
    return out;
  }
  return ExtendFailure(lease.name, replies, extended);
}

redis::Replies RedlockBackend::ExtendRound(const Lease& lease, milliseconds ttl,
                                           const std::vector<std::string>& keys,
                                           const Retake& retake) {
  redis::Gather gather(clients_.size(),
                       [this](const redis::Replies& r) { return CountInts(r, {1}) >= quorum_; });
  const std::vector<std::string> args = {lease.owner_id, std::to_string(ttl.count())};
  for (std::size_t i = 0; i < clients_.size(); ++i) {
    clients_[i]->EvalAsync(extend_, keys, args, retake.Watch(i, clients_[i].get(), gather.Slot(i)));
  }
  return gather.Wait(Steady::now() + InstanceTimeout(ttl));
}

Status RedlockBackend::ExtendFailure(const std::string& name, const redis::Replies& replies,
                                     int extended) const {
  int unanswered = n_ - CountAnswered(replies);
  if (extended + unanswered < quorum_) {
    return NotHeldError(fmt::format("lock '{}' is not held by this owner", name));
  }
  return UnavailableError(
      fmt::format("lock '{}' was extended on only {} of {} Redis instances ({})", name, extended,
                  n_, FirstError(replies)));
}

}  // namespace dlock::redlock
