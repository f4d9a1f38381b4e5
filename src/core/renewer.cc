#include "core/renewer.h"

namespace dlock::internal {

Renewer::Renewer(Clock& clock, bool batch, Step renew, Step check, LockOwner owner)
    : clock_(clock),
      batch_(batch),
      renew_(std::move(renew)),
      check_(std::move(check)),
      owner_(std::move(owner)) {}

Renewer::~Renewer() {
  const auto me = std::this_thread::get_id();
  for (std::jthread* t : {&renew_thread_, &watchdog_}) {
    if (t->joinable() && t->get_id() == me) t->detach();
  }
}

void Renewer::Schedule(const std::shared_ptr<HeldLock>& held, TimePoint renew, TimePoint loss) {
  MutexLock lock(mu_);
  // The threads sleep until their earliest entry (or kIdleWake); wake them only if this
  // one comes sooner (usually not: a new lease is due a full interval from now), sparing
  // a context switch per acquire.
  const bool sooner = renew < renew_wake_ || loss < watch_wake_;
  RenewSlots& slots = SlotsOf(*held);
  slots.renew = renew_queue_.emplace(renew, held);
  slots.watch = loss_queue_.emplace(loss, held);
  if (!renew_thread_.joinable()) {
    renew_thread_ = std::jthread([this](std::stop_token stop) { Loop(Queue::kRenew, stop); });
    watchdog_ = std::jthread([this](std::stop_token stop) { Loop(Queue::kWatch, stop); });
  }
  if (sooner) cv_.notify_all();
}

void Renewer::Unschedule(HeldLock& held) {
  MutexLock lock(mu_);
  RenewSlots& slots = SlotsOf(held);
  if (slots.renew) {
    renew_queue_.erase(*slots.renew);
    slots.renew.reset();
  }
  if (slots.watch) {
    loss_queue_.erase(*slots.watch);
    slots.watch.reset();
  }
}

void Renewer::Loop(Queue which, std::stop_token stop) {
  const bool renewing = which == Queue::kRenew;
  const bool early = renewing && batch_;
  const Step& step = renewing ? renew_ : check_;
  const auto slot = renewing ? &RenewSlots::renew : &RenewSlots::watch;
  MutexLock lock(mu_);
  RenewQueue& queue = renewing ? renew_queue_ : loss_queue_;
  TimePoint& wake = renewing ? renew_wake_ : watch_wake_;
  while (!stop.stop_requested()) {
    const TimePoint now = clock_.Now();
    if (queue.empty() || now < queue.begin()->first) {
      wake = queue.empty() ? now + kIdleWake : queue.begin()->first;
      const TimePoint until = wake;
      clock_.WaitUntil(lock.native(), cv_, until, stop,
                       [&] { return !queue.empty() && queue.begin()->first < until; });
      wake = TimePoint::min();  // awake: Schedule need not notify
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
      (SlotsOf(*held).*slot).reset();
      batch.push_back(std::move(held));
    }
    if (batch.empty()) continue;
    lock.Unlock();
    // `step` may run lost() callbacks that drop the owner's last reference.
    std::shared_ptr<void> self = owner_();
    if (!self) return;  // being destroyed elsewhere, which joins this thread
    std::vector<std::optional<TimePoint>> next = step(batch);
    if (self.use_count() == 1) {  // the last reference: the owner and this die here
      self.reset();
      return;  // touch nothing of this object any more
    }
    lock.Lock();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      HeldLock& held = *batch[i];
      if (next[i] && held.state == HeldState::kHeld) {
        SlotsOf(held).*slot = queue.emplace(*next[i], batch[i]);
      }
    }
    // Drop our reference without mu_: if it is the last one now (the other thread or
    // the application dropped theirs meanwhile), the owner's destructor runs here and
    // joins the other thread, which may be waiting for mu_.
    lock.Unlock();
    std::weak_ptr<void> alive = self;
    self.reset();
    if (alive.expired()) return;  // destroyed: touch nothing of this object any more
    lock.Lock();
  }
}

}  // namespace dlock::internal
