#include "dlock/locker.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "core/locker_core.h"
#include "dlock/async_backend.h"
#include "dlock/batch_backend.h"
#include "dlock/duration.h"
#include "dlock/queueing_backend.h"

namespace dlock {
namespace internal {

using std::chrono::milliseconds;

std::chrono::milliseconds LossMargin(milliseconds ttl) {
  return std::min<milliseconds>(ttl / 10, std::chrono::seconds(1));
}

namespace {

LockerOptions Normalize(LockerOptions options) {
  if (!options.clock) options.clock = SystemClock();
  if (!(options.renew_fraction > 0.0)) options.renew_fraction = 1.0 / 3;
  options.renew_fraction = std::min(options.renew_fraction, 0.9);
  return options;
}

TimePoint LossPoint(const Lease& lease) { return lease.valid_until - LossMargin(lease.ttl); }

}  // namespace

LockerCore::LockerCore(std::shared_ptr<Backend> backend, LockerOptions options)
    : backend_(std::move(backend)), options_(Normalize(std::move(options))) {}

LockerCore::~LockerCore() {
  const auto me = std::this_thread::get_id();
  for (std::jthread* t : {&thread_, &watchdog_}) {
    if (t->joinable() && t->get_id() == me) t->detach();
  }
}

void LockerCore::Emit(EventKind kind, std::string_view name, FencingToken token,
                      std::chrono::nanoseconds elapsed, Status status) const {
  if (!options_.listener) return;
  options_.listener->OnEvent(
      Event{kind, backend_->kind(), name, token, elapsed, std::move(status)});
}

Result<AcquireRequest> LockerCore::MakeRequest(std::string_view name,
                                               const AcquireOptions& options) const {
  DLOCK_RETURN_IF_ERROR(ValidateName(name));
  const milliseconds ttl = options.ttl.count() > 0 ? options.ttl : options_.ttl;
  DLOCK_RETURN_IF_ERROR(ValidateTtl(ttl));
  AcquireRequest request{std::string(name), ttl, NewOwnerId(), options_.holder};
  request.holder.since = std::chrono::system_clock::now();
  // Wait in line where the store keeps one.
  request.queue = options.wait.count() > 0 && backend_->queueing() != nullptr;
  return request;
}

std::shared_ptr<HeldLock> LockerCore::Granted(Lease lease, const AcquireOptions& options,
                                              TimePoint start) {
  auto held = std::make_shared<HeldLock>();
  held->lease = std::move(lease);
  held->valid_until = held->lease.valid_until.time_since_epoch().count();
  held->auto_renew = options.auto_renew;
  // The store's TTL, which may differ from the one asked for (a ZooKeeper session
  // timeout is clamped by the server).
  held->interval =
      std::chrono::duration_cast<milliseconds>(held->lease.ttl * options_.renew_fraction);
  held->acquired_at = options_.clock->Now();
  Emit(EventKind::kAcquired, held->lease.name, held->lease.token, held->acquired_at - start);
  // The first renewal is due an interval after the request that won, not after the
  // call began: a lock granted after a long wait is not renewed at once.
  const TimePoint won = std::max(start, held->lease.valid_until - held->lease.ttl);
  TimePoint first = options.auto_renew ? std::min(won + held->interval, LossPoint(held->lease))
                                       : LossPoint(held->lease);
  Schedule(held, first);
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
    if (lease.ok()) return Granted(std::move(*lease), options, start);
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
          if (turn.ok() && *turn) return Granted(std::move(**turn), options, start);
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
  auto request = MakeRequest(name, options);
  if (!request.ok()) return Answer(done, request.status());
  const TimePoint start = options_.clock->Now();
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
                           done(self->Granted(std::move(*lease), options, start));
                         });
}

void LockerCore::Schedule(const std::shared_ptr<HeldLock>& held, TimePoint when) {
  std::lock_guard lock(queue_mu_);
  // The threads sleep until their earliest entry (or kIdleWake); wake them only if this
  // one comes sooner (usually not: a new lease is due a full interval from now), sparing
  // a context switch per acquire.
  const TimePoint loss = LossPoint(held->lease);
  const bool sooner = when < renew_wake_ || loss < watch_wake_;
  held->slot = queue_.emplace(when, held);
  held->watch = loss_queue_.emplace(loss, held);
  if (!thread_.joinable()) {
    thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
    watchdog_ = std::jthread([this](std::stop_token stop) { Watch(stop); });
  }
  if (sooner) queue_cv_.notify_all();
}

void LockerCore::Unschedule(HeldLock& held) {
  std::lock_guard lock(queue_mu_);
  if (held.slot) {
    queue_.erase(*held.slot);
    held.slot.reset();
  }
  if (held.watch) {
    loss_queue_.erase(*held.watch);
    held.watch.reset();
  }
}

void LockerCore::Watch(std::stop_token stop) {
  Loop(loss_queue_, &HeldLock::watch, &watch_wake_, /*early=*/false, stop,
       [this](const Batch& batch) {
         std::vector<std::optional<TimePoint>> next;
         next.reserve(batch.size());
         for (const auto& held : batch) next.push_back(CheckLoss(held));
         return next;
       });
}

std::optional<TimePoint> LockerCore::CheckLoss(const std::shared_ptr<HeldLock>& held) {
  if (held->state != HeldState::kHeld) return std::nullopt;
  // Renewed since it was queued: check again at the new loss point.
  auto valid_until = TimePoint(TimePoint::duration(held->valid_until.load()));
  TimePoint loss = valid_until - LossMargin(held->lease.ttl);
  if (options_.clock->Now() < loss) return loss;
  Status last;
  {
    std::lock_guard guard(held->reason_mu);
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
    std::lock_guard guard(held.reason_mu);
    held.lost_reason = reason;
  }
  Emit(EventKind::kLost, held.lease.name, held.lease.token,
       options_.clock->Now() - held.acquired_at, reason);
  held.lost.request_stop();  // callbacks may call Release()
}

void LockerCore::Run(std::stop_token stop) {
  // Batches only where the store answers one in a single round trip: Release waits for
  // each lease of a batch until the whole call is over, and a lease late in a slow batch
  // would be renewed after its loss point. Elsewhere, one lease at a time.
  const bool batch = backend_->batch() != nullptr;
  Loop(queue_, &HeldLock::slot, &renew_wake_, /*early=*/batch, stop,
       [this, batch](const Batch& due) {
         if (batch) return Service(due);
         std::vector<std::optional<TimePoint>> next;
         next.reserve(due.size());
         for (const auto& held : due) next.push_back(Service({held}).front());
         return next;
       });
}

void LockerCore::Loop(RenewQueue& queue, std::optional<RenewQueue::iterator> HeldLock::*slot,
                      TimePoint* wake, bool early, std::stop_token stop, const Step& step) {
  Clock& clock = *options_.clock;
  std::unique_lock lock(queue_mu_);
  while (!stop.stop_requested()) {
    const TimePoint now = clock.Now();
    if (queue.empty() || now < queue.begin()->first) {
      *wake = queue.empty() ? now + kIdleWake : queue.begin()->first;
      const TimePoint until = *wake;
      clock.WaitUntil(lock, queue_cv_, until, stop,
                      [&] { return !queue.empty() && queue.begin()->first < until; });
      *wake = TimePoint::min();  // awake: Schedule need not notify
      continue;
    }
    Batch batch;
    for (auto it = queue.begin(); it != queue.end() && batch.size() < kMaxBatch;) {
      std::shared_ptr<HeldLock> held = it->second.lock();
      if (held && it->first > now &&
          !(early && !batch.empty() && it->first <= now + held->interval / 8)) {
        break;
      }
      it = queue.erase(it);
      if (!held) continue;
      ((*held).*slot).reset();
      batch.push_back(std::move(held));
    }
    if (batch.empty()) continue;
    lock.unlock();
    // `step` may run lost() callbacks that drop the last reference to this core.
    auto self = weak_from_this().lock();
    if (!self) return;  // being destroyed elsewhere, which joins this thread
    std::vector<std::optional<TimePoint>> next = step(batch);
    if (self.use_count() == 1) {  // the last reference: ~LockerCore runs here
      self.reset();
      return;  // touch nothing of this object any more
    }
    lock.lock();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      HeldLock& held = *batch[i];
      if (next[i] && held.state == HeldState::kHeld) held.*slot = queue.emplace(*next[i], batch[i]);
    }
    // Drop our reference without queue_mu_: if it is the last one now (the other thread
    // or the application dropped theirs meanwhile), ~LockerCore runs here and joins the
    // other thread, which may be waiting for queue_mu_.
    lock.unlock();
    std::weak_ptr<LockerCore> alive = self;
    self.reset();
    if (alive.expired()) return;  // destroyed: touch nothing of this object any more
    lock.lock();
  }
}

std::vector<std::optional<TimePoint>> LockerCore::Service(const Batch& batch) {
  Clock& clock = *options_.clock;
  std::vector<std::optional<TimePoint>> next(batch.size());
  // Each renewing lease is marked `renewing` across the store call, so that Release
  // waits for it and a late renewal can never extend a released lease.
  std::vector<std::size_t> renewing;
  std::vector<Lease> leases;
  const TimePoint now = clock.Now();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    HeldLock& held = *batch[i];
    std::lock_guard lock(held.mu);
    if (held.state != HeldState::kHeld || now >= LossPoint(held.lease) || !held.auto_renew) {
      continue;  // the watchdog declares the loss at the loss point
    }
    held.renewing = true;
    renewing.push_back(i);
    leases.push_back(held.lease);
  }
  if (renewing.empty()) return next;
  std::vector<Result<Lease>> renewed = dlock::ExtendMany(*backend_, leases);
  const TimePoint after = clock.Now();
  struct Outcome {
    EventKind kind;
    FencingToken token;
    Status status;
  };
  std::vector<Outcome> outcomes;  // events, sent without any mu held
  outcomes.reserve(renewing.size());
  std::vector<std::function<void()>> releases;  // ReleaseAsync calls that came meanwhile
  for (std::size_t k = 0; k < renewing.size(); ++k) {
    HeldLock& held = *batch[renewing[k]];
    std::lock_guard lock(held.mu);
    held.renewing = false;
    held.renewal_done.notify_all();
    if (held.release_after_renewal)
      releases.push_back(std::exchange(held.release_after_renewal, {}));
    const FencingToken token = held.lease.token;
    Result<Lease>& r = renewed[k];
    if (r.ok()) {
      held.lease.valid_until = r->valid_until;
      held.valid_until = r->valid_until.time_since_epoch().count();
      {
        std::lock_guard guard(held.reason_mu);
        held.last_renew_error = OkStatus();
      }
      outcomes.push_back({EventKind::kRenewed, token, OkStatus()});
      next[renewing[k]] = std::min(after + held.interval, LossPoint(held.lease));
    } else if (r.status().code() == Code::kNotHeld) {
      {
        std::lock_guard guard(held.reason_mu);
        held.store_said_gone = true;
      }
      outcomes.push_back({EventKind::kLost, token, std::move(r).status()});
    } else {
      // Keep trying, more often as the loss point nears.
      {
        std::lock_guard guard(held.reason_mu);
        held.last_renew_error = r.status();
      }
      outcomes.push_back({EventKind::kRenewFailed, token, r.status()});
      TimePoint loss = LossPoint(held.lease);
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
      Emit(o.kind, held.lease.name, o.token, after - now, std::move(o.status));
    }
  }
  for (auto& release : releases) release();
  return next;
}

LockerCore::ReleasePlan LockerCore::PlanRelease(HeldLock& held) {
  HeldState state = HeldState::kHeld;
  if (held.state.compare_exchange_strong(state, HeldState::kReleased)) return {held.lease, {}};
  if (state != HeldState::kLost) return {{}, NotHeldError("already released")};
  // Declared lost here, but perhaps still ours in the store (a session that outlived a
  // disconnect, a key the store kept): free it, or nobody gets it until it expires.
  held.state = HeldState::kReleased;
  Status reason;
  bool gone = false;
  {
    std::lock_guard guard(held.reason_mu);
    reason = held.lost_reason;
    gone = held.store_said_gone;
  }
  ReleasePlan plan{{}, NotHeldError(fmt::format("the lock was lost: {}", reason.message()))};
  if (!gone) plan.free = held.lease;
  return plan;
}

Status LockerCore::Release(HeldLock& held) {
  ReleasePlan plan;
  {
    // Waits for a renewal in flight, so that it cannot extend a released lease.
    auto lock = held.LockWhenNotRenewing();
    plan = PlanRelease(held);
  }
  if (plan.answer) {
    if (plan.free) backend_->Release(*plan.free).IgnoreError();  // without held.mu
    return *plan.answer;
  }
  Unschedule(held);
  Status status = backend_->Release(*plan.free);
  Emit(EventKind::kReleased, plan.free->name, plan.free->token,
       options_.clock->Now() - held.acquired_at, status);
  return status;
}

void LockerCore::ReleaseAsync(const std::shared_ptr<HeldLock>& held, StatusCallback done) {
  ReleasePlan plan;
  {
    std::lock_guard lock(held->mu);
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
      return;
    }
  }
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
  Unschedule(*held);
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
    // Within an asynchronous callback, without waiting for a renewal in flight (its reply
    // may need this thread): a renewal after a detach only extends a lease that is
    // meant to stay held until its TTL anyway.
    auto lock = InAsyncCallback() ? std::unique_lock(held.mu) : held.LockWhenNotRenewing();
    HeldState state = HeldState::kHeld;
    was_held = held.state.compare_exchange_strong(state, HeldState::kDetached);
    lease = held.lease;
  }
  Unschedule(held);
  if (was_held) {
    Emit(EventKind::kDetached, lease.name, lease.token, options_.clock->Now() - held.acquired_at);
  }
  return lease;
}

}  // namespace internal

Locker::Locker(std::shared_ptr<Backend> backend, LockerOptions options)
    : core_(std::make_shared<internal::LockerCore>(std::move(backend), std::move(options))) {}

Locker::~Locker() = default;

Result<Lock> Locker::Acquire(std::string_view name, const AcquireOptions& options) {
  auto held = core_->Acquire(name, options);
  if (!held.ok()) return std::move(held).status();
  return Lock(core_, std::move(*held));
}

void Locker::TryAcquireAsync(std::string_view name, const AcquireOptions& options,
                             std::function<void(Result<Lock>)> done) {
  core_->TryAcquireAsync(
      name, options,
      [core = core_, done = std::move(done)](Result<std::shared_ptr<internal::HeldLock>> held) {
        if (!held.ok()) return done(std::move(held).status());
        done(Lock(core, std::move(*held)));
      });
}

Backend& Locker::backend() const { return core_->backend(); }
const LockerOptions& Locker::options() const { return core_->options(); }

}  // namespace dlock
