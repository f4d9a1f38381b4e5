#include "dlock/testing/faulty_backend.h"

#include <fmt/format.h>

#include <algorithm>

namespace dlock::testing {
namespace {

std::size_t Index(Op op) { return static_cast<std::size_t>(op); }

}  // namespace

FaultyBackend::FaultyBackend(std::shared_ptr<Backend> inner) : inner_(std::move(inner)) {}

void FaultyBackend::FailNext(Op op, int n, Code code) {
  std::lock_guard lock(mu_);
  faults_[Index(op)] = {n, code};
}

void FaultyBackend::FailAlways(Op op, Code code) {
  std::lock_guard lock(mu_);
  faults_[Index(op)] = {-1, code};
}

void FaultyBackend::Heal(Op op) {
  std::lock_guard lock(mu_);
  faults_[Index(op)] = {};
}

void FaultyBackend::Block(Op op) {
  std::lock_guard lock(mu_);
  blocked_[Index(op)] = true;
}

void FaultyBackend::Unblock() {
  std::lock_guard lock(mu_);
  blocked_.fill(false);
  unblocked_.notify_all();
}

void FaultyBackend::DisableNativeWait() {
  std::lock_guard lock(mu_);
  native_wait_disabled_ = true;
}

int FaultyBackend::calls(Op op) const {
  std::lock_guard lock(mu_);
  return calls_[Index(op)];
}

Status FaultyBackend::Enter(Op op) {
  std::unique_lock lock(mu_);
  ++calls_[Index(op)];
  unblocked_.wait(lock, [&] { return !blocked_[Index(op)]; });
  Fault& fault = faults_[Index(op)];
  if (fault.remaining == 0) return OkStatus();
  if (fault.remaining > 0) --fault.remaining;
  return Status(fault.code, fmt::format("injected {}", CodeName(fault.code)));
}

Result<Lease> FaultyBackend::TryAcquire(const AcquireRequest& request) {
  DLOCK_RETURN_IF_ERROR(Enter(Op::kTryAcquire));
  return inner_->TryAcquire(request);
}

Result<Lease> FaultyBackend::Extend(const Lease& lease, std::chrono::milliseconds ttl) {
  DLOCK_RETURN_IF_ERROR(Enter(Op::kExtend));
  return inner_->Extend(lease, ttl);
}

std::vector<Result<Lease>> FaultyBackend::ExtendMany(const std::vector<Lease>& leases) {
  {
    std::lock_guard lock(mu_);
    largest_extend_batch_ = std::max(largest_extend_batch_, leases.size());
  }
  return ExtendEach(*this, leases);
}

std::size_t FaultyBackend::largest_extend_batch() const {
  std::lock_guard lock(mu_);
  return largest_extend_batch_;
}

Status FaultyBackend::Release(const Lease& lease) {
  DLOCK_RETURN_IF_ERROR(Enter(Op::kRelease));
  return inner_->Release(lease);
}

Status FaultyBackend::ForceRelease(std::string_view name) {
  DLOCK_RETURN_IF_ERROR(Enter(Op::kForceRelease));
  return inner_->ForceRelease(name);
}

Result<LockState> FaultyBackend::Inspect(std::string_view name) {
  DLOCK_RETURN_IF_ERROR(Enter(Op::kInspect));
  return inner_->Inspect(name);
}

Status FaultyBackend::EnterWait() {
  {
    std::lock_guard lock(mu_);
    if (native_wait_disabled_) {
      ++calls_[Index(Op::kWaitForRelease)];
      return UnimplementedError("native wait disabled by the test");
    }
  }
  return Enter(Op::kWaitForRelease);
}

Status FaultyBackend::WaitForRelease(std::string_view name,
                                     std::chrono::steady_clock::time_point deadline,
                                     std::stop_token stop) {
  DLOCK_RETURN_IF_ERROR(EnterWait());
  return inner_->WaitForRelease(name, deadline, stop);
}

Result<std::optional<Lease>> FaultyBackend::WaitForTurn(
    const AcquireRequest& request, std::chrono::steady_clock::time_point deadline,
    std::stop_token stop) {
  DLOCK_RETURN_IF_ERROR(EnterWait());
  return inner_->queueing()->WaitForTurn(request, deadline, stop);
}

Status FaultyBackend::LeaveQueue(std::string_view name, std::string_view owner_id) {
  return inner_->queueing()->LeaveQueue(name, owner_id);
}

}  // namespace dlock::testing
