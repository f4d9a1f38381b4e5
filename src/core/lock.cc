#include "dlock/lock.h"

#include "core/locker_core.h"

namespace dlock {

Lock::Lock(std::shared_ptr<internal::LockerCore> core, std::shared_ptr<internal::HeldLock> held)
    : core_(std::move(core)), held_(std::move(held)) {}

Lock& Lock::operator=(Lock&& other) noexcept {
  if (this != &other) {
    if (held_) Release().IgnoreError();  // reported as an event
    core_ = std::move(other.core_);
    held_ = std::move(other.held_);
  }
  return *this;
}

Lock::~Lock() {
  if (held_) Release().IgnoreError();  // reported as an event
}

bool Lock::held() const {
  if (!held_ || held_->state != internal::HeldState::kHeld) return false;
  auto now = core_->clock().Now().time_since_epoch().count();
  return now < held_->valid_until.load();
}

Lease Lock::lease() const {
  if (!held_) return Lease{};
  std::lock_guard lock(held_->mu);
  return held_->lease;
}

FencingToken Lock::token() const { return held_ ? held_->lease.token : 0; }

std::stop_token Lock::lost() const { return held_ ? held_->lost.get_token() : std::stop_token(); }

Status Lock::lost_reason() const {
  if (!held_ || held_->state != internal::HeldState::kLost) return OkStatus();
  std::lock_guard lock(held_->reason_mu);
  return held_->lost_reason;
}

Status Lock::Release() {
  if (!held_) return NotHeldError("this Lock holds nothing");
  return core_->Release(*held_);
}

Lease Lock::Detach() {
  if (!held_) return Lease{};
  return core_->Detach(*held_);
}

}  // namespace dlock
