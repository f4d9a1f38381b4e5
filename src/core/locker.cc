// LockerCore's construction and events, and the public Locker over it.
#include "dlock/locker.h"

#include <algorithm>

#include "core/locker_core.h"

namespace dlock {
namespace internal {

namespace {

LockerOptions Normalize(LockerOptions options) {
  if (!options.clock) options.clock = SystemClock();
  if (!(options.renew_fraction > 0.0)) options.renew_fraction = 1.0 / 3;
  options.renew_fraction = std::min(options.renew_fraction, 0.9);
  return options;
}

}  // namespace

LockerCore::LockerCore(std::shared_ptr<Backend> backend, LockerOptions options)
    : backend_(std::move(backend)),
      options_(Normalize(std::move(options))),
      renewer_(
          *options_.clock, backend_->batch() != nullptr,
          [this](const Renewer::Batch& due) { return Renew(due); },
          [this](const Renewer::Batch& due) {
            std::vector<std::optional<TimePoint>> next;
            next.reserve(due.size());
            for (const auto& held : due) next.push_back(CheckLoss(held));
            return next;
          },
          [this]() -> std::shared_ptr<void> { return weak_from_this().lock(); }) {}

void LockerCore::Emit(EventKind kind, std::string_view name, FencingToken token,
                      std::chrono::nanoseconds elapsed, Status status) const {
  if (!options_.listener) return;
  options_.listener->OnEvent(
      Event{kind, backend_->kind(), name, token, elapsed, std::move(status)});
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
