#include "dlock/lock.h"

#include "core/locker_core.h"

namespace dlock {

Lock::Lock(std::shared_ptr<internal::LockerCore> core, std::shared_ptr<internal::HeldLock> held)
    : core_(std::move(core)), held_(std::move(held)) {}

Lock::Lock(Lock&& other) noexcept
    : core_(std::move(other.core_)),
      held_(std::move(other.held_)),
      released_(other.released_.load()) {}

Lock& Lock::operator=(Lock&& other) noexcept {
  if (this != &other) {
    ReleaseOnDrop();
    core_ = std::move(other.core_);
    held_ = std::move(other.held_);
    released_ = other.released_.load();
  }
  return *this;
}

Lock::~Lock() { ReleaseOnDrop(); }

void Lock::ReleaseOnDrop() {
  if (!held_) return;
  // A failure is reported as an event.
  if (internal::InAsyncCallback()) return ReleaseAsync();
  Release().IgnoreError();
}

bool Lock::held() const {
  if (!held_ || released_ || held_->state != internal::HeldState::kHeld) return false;
  return core_->clock().Now() < held_->valid_until();
}

Lease Lock::lease() const {
  if (!held_) return Lease{};
  return held_->lease();
}

FencingToken Lock::token() const { return held_ ? held_->granted.token : 0; }

std::stop_token Lock::lost() const { return held_ ? held_->lost.get_token() : std::stop_token(); }

Status Lock::lost_reason() const {
  if (!held_ || held_->state != internal::HeldState::kLost) return OkStatus();
  internal::MutexLock lock(held_->reason_mu);
  return held_->lost_reason;
}

Status Lock::Release() {
  if (!held_) return NotHeldError("this Lock holds nothing");
  if (internal::InAsyncCallback()) {
    ReleaseAsync();  // nothing is left locked: it is being released
    return internal::BlockingInCallback("Release()");
  }
  if (released_.exchange(true)) return NotHeldError("already released");
  return core_->Release(*held_);
}

void Lock::ReleaseAsync(std::function<void(Status)> done) {
  if (!done) done = [](const Status&) {};
  if (!held_) return internal::Answer(done, NotHeldError("this Lock holds nothing"));
  if (released_.exchange(true)) return internal::Answer(done, NotHeldError("already released"));
  core_->ReleaseAsync(held_, std::move(done));
}

Lease Lock::Detach() {
  if (!held_) return Lease{};
  return core_->Detach(*held_);
}

}  // namespace dlock
