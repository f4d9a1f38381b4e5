// LockerCore's release and detach: a lease leaves the Renewer, and is freed in the store
// (release) or left to its TTL (detach), never while a renewal call for it is in flight.
// A lease re-entered (AcquireOptions::reentrant) is released by its last hold.
#include <fmt/format.h>

#include "core/locker_core.h"
#include "dlock/async_backend.h"

namespace dlock::internal {

LockerCore::ReleasePlan LockerCore::PlanRelease(HeldLock& held) {
  HeldState state = HeldState::kHeld;
  if (held.state.compare_exchange_strong(state, HeldState::kReleased)) return {held.lease(), {}};
  if (state != HeldState::kLost) return {{}, NotHeldError("already released")};
  // Declared lost here, but perhaps still ours in the store (a session that outlived a
  // disconnect, a key the store kept): free it, or nobody gets it until it expires.
  held.state = HeldState::kReleased;
  Status reason;
  bool gone = false;
  {
    MutexLock guard(held.reason_mu);
    reason = held.lost_reason;
    gone = held.store_said_gone;
  }
  ReleasePlan plan{{}, NotHeldError(fmt::format("the lock was lost: {}", reason.message()))};
  if (!gone) plan.free = held.lease();
  return plan;
}

std::optional<Status> LockerCore::DropOneOfSeveralHolds(HeldLock& held) {
  if (held.holds <= 1) return std::nullopt;
  --held.holds;
  switch (held.state.load()) {
    case HeldState::kHeld: return OkStatus();
    case HeldState::kLost: {
      MutexLock guard(held.reason_mu);
      return NotHeldError(fmt::format("the lock was lost: {}", held.lost_reason.message()));
    }
    case HeldState::kReleased:
    case HeldState::kDetached: break;
  }
  return NotHeldError("already released");
}

void LockerCore::Forget(const HeldLock& held) {
  if (held.holder == kNoThread) return;
  MutexLock lock(holders_mu_);
  auto it = holders_.find({held.granted.name, held.holder});
  // Only this lease's entry: a later lease of the name may have replaced it.
  if (it != holders_.end() && it->second.lock().get() == &held) holders_.erase(it);
}

Status LockerCore::Release(HeldLock& held) {
  ReleasePlan plan;
  {
    MutexLock lock(held.mu);
    // Another hold keeps the lease: nothing to wait for, nothing sent.
    if (auto answer = DropOneOfSeveralHolds(held)) return *answer;
    // Waits for a renewal in flight, so that it cannot extend a released lease.
    held.AwaitNotRenewing(lock);
    if (auto answer = DropOneOfSeveralHolds(held)) return *answer;  // re-entered meanwhile
    held.holds = 0;
    plan = PlanRelease(held);
  }
  Forget(held);
  if (plan.answer) {
    if (plan.free) backend_->Release(*plan.free).IgnoreError();  // without held.mu
    return *plan.answer;
  }
  renewer_.Unschedule(held);
  Status status = backend_->Release(*plan.free);
  Emit(EventKind::kReleased, plan.free->name, plan.free->token,
       options_.clock->Now() - held.acquired_at, status);
  return status;
}

void LockerCore::ReleaseAsync(const std::shared_ptr<HeldLock>& held, StatusCallback done) {
  ReleasePlan plan;
  {
    MutexLock lock(held->mu);
    if (auto answer = DropOneOfSeveralHolds(*held)) {
      lock.Unlock();
      return Answer(done, std::move(*answer));
    }
    held->holds = 0;
    // Marked released at once, so that this call is the one that releases (a later
    // Release or ReleaseAsync answers "already released").
    plan = PlanRelease(*held);
    if (held->renewing && plan.free) {
      // A renewal call is in flight. This may be the backend's I/O thread, which the
      // renewal's reply needs: instead of waiting, leave the call to the renewal thread,
      // so that it goes out after the renewal.
      held->release_after_renewal = [self = shared_from_this(), held, plan,
                                     done = std::move(done)] {
        self->SendRelease(held, plan, done);
      };
      lock.Unlock();
      Forget(*held);
      return;
    }
  }
  Forget(*held);
  SendRelease(held, plan, std::move(done));
}

void LockerCore::SendRelease(const std::shared_ptr<HeldLock>& held, const ReleasePlan& plan,
                             StatusCallback done) {
  if (plan.answer) {
    // The callback keeps this core, and so the backend, alive until the call is over.
    if (plan.free) {
      dlock::ReleaseAsync(*backend_, *plan.free, [self = shared_from_this()](const Status&) {});
    }
    return Answer(done, *plan.answer);
  }
  renewer_.Unschedule(*held);
  dlock::ReleaseAsync(
      *backend_, *plan.free,
      [self = shared_from_this(), held, lease = *plan.free, done = std::move(done)](Status status) {
        self->Emit(EventKind::kReleased, lease.name, lease.token,
                   self->options_.clock->Now() - held->acquired_at, status);
        Answer(done, std::move(status));
      });
}

Lease LockerCore::Detach(HeldLock& held) {
  Lease lease;
  bool was_held = false;
  {
    MutexLock lock(held.mu);
    // Within an asynchronous callback, without waiting for a renewal in flight (its reply
    // may need this thread): a renewal after a detach only extends a lease that is
    // meant to stay held until its TTL anyway.
    if (!InAsyncCallback()) held.AwaitNotRenewing(lock);
    // Every hold of a re-entered lease: it is detached, not one of its Locks.
    HeldState state = HeldState::kHeld;
    was_held = held.state.compare_exchange_strong(state, HeldState::kDetached);
    lease = held.lease();
  }
  Forget(held);
  renewer_.Unschedule(held);
  if (was_held) {
    Emit(EventKind::kDetached, lease.name, lease.token, options_.clock->Now() - held.acquired_at);
  }
  return lease;
}

}  // namespace dlock::internal
