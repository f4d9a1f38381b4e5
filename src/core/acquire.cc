// LockerCore's acquire path: one attempt, then waiting (woken by the store, or polling
// with backoff) until the deadline; and its asynchronous form.
#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "core/locker_core.h"
#include "dlock/async_backend.h"
#include "dlock/duration.h"
#include "dlock/queueing_backend.h"

namespace dlock::internal {

using std::chrono::milliseconds;

Result<AcquireRequest> LockerCore::MakeRequest(std::string_view name,
                                               const AcquireOptions& options) const {
  DLOCK_RETURN_IF_ERROR(ValidateName(name));
  const milliseconds ttl = options.ttl.count() > 0 ? options.ttl : options_.ttl;
  DLOCK_RETURN_IF_ERROR(ValidateTtl(ttl));
  // A TTL that the store's drift margin leaves less than half of would give leases that
  // end about as soon as they begin, and renewals that come too late.
  const DriftMargin drift = backend_->drift();
  DLOCK_RETURN_IF_ERROR(ValidateDriftMargin(drift));
  if (ClockDrift(ttl, drift) * 2 > ttl) {
    return InvalidArgumentError(fmt::format(
        "ttl {} is too short for the store's drift margin ({:g}% of the TTL + {} ms = {} ms): "
        "the margin must leave at least half of the TTL",
        FormatDuration(ttl), drift.factor * 100, drift.fixed.count(),
        ClockDrift(ttl, drift).count()));
  }
  AcquireRequest request{std::string(name), ttl, NewOwnerId(), options_.holder};
  request.holder.since = std::chrono::system_clock::now();
  // Wait in line where the store keeps one.
  request.queue = options.wait.count() > 0 && backend_->queueing() != nullptr;
  return request;
}

std::shared_ptr<HeldLock> LockerCore::Granted(Lease lease, const AcquireOptions& options,
                                              TimePoint start, ThreadSerial holder) {
  // The store's TTL, which may differ from the one asked for (a ZooKeeper session
  // timeout is clamped by the server).
  const auto interval =
      std::chrono::duration_cast<milliseconds>(lease.ttl * options_.renew_fraction);
  auto held = std::make_shared<HeldLock>(std::move(lease), options.auto_renew, options.reentrant,
                                         holder, interval, options_.clock->Now());
  const Lease& granted = held->granted;
  if (holder != kNoThread) {
    // Replaces an entry of a lease of this name that is no longer held.
    MutexLock lock(holders_mu_);
    holders_.insert_or_assign({granted.name, holder}, held);
  }
  Emit(EventKind::kAcquired, granted.name, granted.token, held->acquired_at - start);
  // The first renewal is due an interval after the request that won, not after the
  // call began: a lock granted after a long wait is not renewed at once.
  const TimePoint won = std::max(start, granted.valid_until - granted.ttl);
  const TimePoint loss = held->loss_point();
  renewer_.Schedule(held, options.auto_renew ? std::min(won + interval, loss) : loss, loss);
  return held;
}

Result<std::shared_ptr<HeldLock>> LockerCore::HeldByThisThread(const std::string& name,
                                                               const AcquireOptions& options) {
  std::shared_ptr<HeldLock> held;
  {
    MutexLock lock(holders_mu_);
    auto it = holders_.find({name, ThisThreadSerial()});
    if (it == holders_.end()) return std::shared_ptr<HeldLock>();
    held = it->second.lock();
    if (!held) {
      holders_.erase(it);
      return std::shared_ptr<HeldLock>();
    }
  }
  // Held as Lock::held() says: a lease lost or run out is no obstacle (the store decides).
  auto still_held = [&] {
    return held->state == HeldState::kHeld && options_.clock->Now() < held->valid_until();
  };
  if (!still_held()) return std::shared_ptr<HeldLock>();
  if (!options.reentrant) {
    return FailedPreconditionError(
        fmt::format("{} is already held by this thread through this Locker; use "
                    "AcquireOptions::reentrant, or release it first",
                    name));
  }
  if (!held->reentrant) {
    return FailedPreconditionError(
        fmt::format("{} is already held by this thread through this Locker, not reentrantly; "
                    "take it with AcquireOptions::reentrant the first time too, or release it "
                    "first",
                    name));
  }
  MutexLock lock(held->mu);
  // Released, detached or lost meanwhile (by a Lock moved to another thread, or the
  // watchdog): acquire anew.
  if (!still_held()) return std::shared_ptr<HeldLock>();
  ++held->holds;
  return held;
}

Result<std::shared_ptr<HeldLock>> LockerCore::Acquire(std::string_view name,
                                                      const AcquireOptions& options) {
  if (InAsyncCallback()) return BlockingInCallback("Acquire()");
  auto made = MakeRequest(name, options);
  if (!made.ok()) return made.status();
  const AcquireRequest& request = *made;

  Clock& clock = *options_.clock;
  const TimePoint start = clock.Now();
  // Before anything reaches the store: a re-entry, or a wait on this thread itself.
  auto mine = HeldByThisThread(request.name, options);
  if (!mine.ok()) {
    Emit(EventKind::kAcquireFailed, name, 0, std::chrono::nanoseconds(0), mine.status());
    return mine.status();
  }
  if (*mine) return std::move(*mine);
  const ThreadSerial holder = ThisThreadSerial();
  const TimePoint deadline = options.wait.count() > 0 ? start + options.wait : start;
  std::optional<Backoff> backoff;  // seeded from the OS only if this call has to wait
  QueueingBackend* const line = request.queue ? backend_->queueing() : nullptr;
  bool native_wait = true;  // until the store says it cannot wait
  bool announced = false;

  auto fail = [&](Status status) -> Status {
    if (line) line->LeaveQueue(name, request.owner_id).IgnoreError();
    Emit(EventKind::kAcquireFailed, name, 0, clock.Now() - start, status);
    return status;
  };

  while (true) {
    if (options.stop.stop_requested()) return fail(CancelledError("cancelled while waiting"));
    auto lease = backend_->TryAcquire(request);
    if (lease.ok()) return Granted(std::move(*lease), options, start, holder);
    Status status = std::move(lease).status();
    if (!IsRetryable(status.code()) || options.wait.count() == 0) return fail(std::move(status));
    if (clock.Now() >= deadline) {
      std::string waited = FormatDuration(options.wait);
      if (status.code() == Code::kContended) {
        return fail(DeadlineExceededError(
            fmt::format("{}; gave up after waiting {}", status.message(), waited)));
      }
      return fail(UnavailableError(
          fmt::format("{}; gave up after retrying for {}", status.message(), waited)));
    }
    if (status.code() == Code::kContended) {
      if (!announced) Emit(EventKind::kWaiting, name, 0, clock.Now() - start, status);
      announced = true;
      if (native_wait) {
        Status woke;
        if (line) {
          auto turn = line->WaitForTurn(request, deadline, options.stop);
          if (turn.ok() && *turn) return Granted(std::move(**turn), options, start, holder);
          if (!turn.ok()) woke = std::move(turn).status();
        } else {
          woke = backend_->WaitForRelease(name, deadline, options.stop);
        }
        if (woke.ok() || woke.code() == Code::kDeadlineExceeded) continue;
        if (woke.code() == Code::kCancelled) return fail(std::move(woke));
        if (woke.code() == Code::kUnimplemented) native_wait = false;
      }
    }
    if (!backoff) backoff.emplace(options_.backoff, std::random_device{}());
    TimePoint wake = std::min(deadline, clock.Now() + backoff->Next());
    if (!clock.SleepUntil(wake, options.stop)) {
      return fail(CancelledError("cancelled while waiting"));
    }
  }
}

void LockerCore::TryAcquireAsync(std::string_view name, const AcquireOptions& options,
                                 HeldCallback done) {
  if (options.wait.count() > 0) {
    return Answer(done, InvalidArgumentError("TryAcquireAsync makes one attempt: wait must be 0"));
  }
  if (options.reentrant) {
    return Answer(done, InvalidArgumentError(
                            "TryAcquireAsync takes no reentrant lock: reentrant must be false"));
  }
  auto request = MakeRequest(name, options);
  if (!request.ok()) return Answer(done, request.status());
  const TimePoint start = options_.clock->Now();
  // As Acquire: a name this thread holds through Acquire is a self-deadlock, at once.
  auto mine = HeldByThisThread(request->name, options);
  if (!mine.ok()) {
    Emit(EventKind::kAcquireFailed, name, 0, std::chrono::nanoseconds(0), mine.status());
    return Answer(done, mine.status());
  }
  if (options.stop.stop_requested()) {  // as Acquire: cancelled before the attempt
    Status cancelled = CancelledError("cancelled before the attempt");
    Emit(EventKind::kAcquireFailed, name, 0, std::chrono::nanoseconds(0), cancelled);
    return Answer(done, std::move(cancelled));
  }
  // The callback keeps this core, and so the backend, alive until it has run.
  dlock::TryAcquireAsync(*backend_, *request,
                         [self = shared_from_this(), name = request->name, options, start,
                          done = std::move(done)](Result<Lease> lease) {
                           AsyncCallbackScope scope;
                           if (!lease.ok()) {
                             self->Emit(EventKind::kAcquireFailed, name, 0,
                                        self->options_.clock->Now() - start, lease.status());
                             return done(std::move(lease).status());
                           }
                           done(self->Granted(std::move(*lease), options, start, kNoThread));
                         });
}

}  // namespace dlock::internal
