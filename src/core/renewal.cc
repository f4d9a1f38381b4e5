// LockerCore's renewal: the steps its Renewer runs, on the renewal thread (renew the
// leases that fall due) and on the watchdog (declare a lease lost at its loss point
// unless it was renewed), and the loss itself.
#include <fmt/format.h>

#include <algorithm>

#include "core/locker_core.h"
#include "dlock/batch_backend.h"

namespace dlock::internal {

using std::chrono::milliseconds;

std::vector<std::optional<TimePoint>> LockerCore::Renew(const Renewer::Batch& due) {
  // Batches only where the store answers one in a single round trip: Release waits for
  // each lease of a batch until the whole call is over, and a lease late in a slow batch
  // would be renewed after its loss point. Elsewhere, one lease at a time.
  if (backend_->batch()) return Service(due);
  std::vector<std::optional<TimePoint>> next;
  next.reserve(due.size());
  for (const auto& held : due) next.push_back(Service({held}).front());
  return next;
}

std::optional<TimePoint> LockerCore::CheckLoss(const std::shared_ptr<HeldLock>& held) {
  if (held->state != HeldState::kHeld) return std::nullopt;
  // Renewed since it was queued: check again at the new loss point.
  const TimePoint loss = held->loss_point();
  if (options_.clock->Now() < loss) return loss;
  Status last;
  {
    MutexLock guard(held->reason_mu);
    last = held->last_renew_error;
  }
  DeclareLost(*held, held->auto_renew
                         ? NotHeldError(fmt::format(
                               "could not renew before the lease ran out: {}",
                               last.ok() ? "no renewal answered in time" : last.message()))
                         : NotHeldError("the lease's TTL ran out (auto-renewal is off)"));
  return std::nullopt;
}

void LockerCore::DeclareLost(HeldLock& held, Status reason) {
  HeldState expected = HeldState::kHeld;
  if (!held.state.compare_exchange_strong(expected, HeldState::kLost)) return;
  {
    MutexLock guard(held.reason_mu);
    held.lost_reason = reason;
  }
  Emit(EventKind::kLost, held.granted.name, held.granted.token,
       options_.clock->Now() - held.acquired_at, reason);
  held.lost.request_stop();  // callbacks may call Release()
}

std::vector<std::optional<TimePoint>> LockerCore::Service(const Renewer::Batch& batch) {
  Clock& clock = *options_.clock;
  std::vector<std::optional<TimePoint>> next(batch.size());
  // Each renewing lease is marked `renewing` across the store call, so that Release
  // waits for it and a late renewal can never extend a released lease.
  std::vector<std::size_t> renewing;
  std::vector<Lease> leases;
  const TimePoint now = clock.Now();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    HeldLock& held = *batch[i];
    MutexLock lock(held.mu);
    if (held.state != HeldState::kHeld || now >= held.loss_point() || !held.auto_renew) {
      continue;  // the watchdog declares the loss at the loss point
    }
    held.renewing = true;
    renewing.push_back(i);
    leases.push_back(held.lease());
  }
  if (renewing.empty()) return next;
  std::vector<Result<Lease>> renewed = ExtendMany(*backend_, leases);
  const TimePoint after = clock.Now();
  struct Outcome {
    EventKind kind;
    Status status;
  };
  std::vector<Outcome> outcomes;  // events, sent without any mu held
  outcomes.reserve(renewing.size());
  std::vector<std::function<void()>> releases;  // ReleaseAsync calls that came meanwhile
  for (std::size_t k = 0; k < renewing.size(); ++k) {
    HeldLock& held = *batch[renewing[k]];
    MutexLock lock(held.mu);
    held.renewing = false;
    held.renewal_done.notify_all();
    if (held.release_after_renewal) {
      releases.push_back(std::exchange(held.release_after_renewal, {}));
    }
    Result<Lease>& r = renewed[k];
    if (r.ok()) {
      held.set_valid_until(r->valid_until);
      {
        MutexLock guard(held.reason_mu);
        held.last_renew_error = OkStatus();
      }
      outcomes.push_back({EventKind::kRenewed, OkStatus()});
      next[renewing[k]] = std::min(after + held.interval, held.loss_point());
    } else if (r.status().code() == Code::kNotHeld) {
      {
        MutexLock guard(held.reason_mu);
        held.store_said_gone = true;
      }
      outcomes.push_back({EventKind::kLost, std::move(r).status()});
    } else {
      // Keep trying, more often as the loss point nears.
      {
        MutexLock guard(held.reason_mu);
        held.last_renew_error = r.status();
      }
      outcomes.push_back({EventKind::kRenewFailed, r.status()});
      const TimePoint loss = held.loss_point();
      auto retry = std::clamp<std::chrono::nanoseconds>((loss - after) / 4, milliseconds(10),
                                                        std::chrono::seconds(1));
      if (after + retry < loss) next[renewing[k]] = after + retry;
    }
  }
  for (std::size_t k = 0; k < renewing.size(); ++k) {
    HeldLock& held = *batch[renewing[k]];
    Outcome& o = outcomes[k];
    if (o.kind == EventKind::kLost) {
      DeclareLost(held, std::move(o.status));  // outside held.mu
    } else {
      Emit(o.kind, held.granted.name, held.granted.token, after - now, std::move(o.status));
    }
  }
  for (auto& release : releases) release();
  return next;
}

}  // namespace dlock::internal
