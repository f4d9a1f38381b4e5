// The in-process backend: one LockRecord per name behind a mutex; waiters sleep on a
// condition variable that Release notifies.
#include <condition_variable>
#include <map>
#include <mutex>

#include "core/lock_record.h"
#include "dlock/backends/memory.h"

namespace dlock {
namespace {

using internal::LockRecord;

class MemoryBackend final : public Backend {
 public:
  explicit MemoryBackend(std::shared_ptr<Clock> clock) : clock_(std::move(clock)) {}

  Result<Lease> TryAcquire(const AcquireRequest& request) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateAcquireRequest(request));
    auto start = clock_->Now();
    std::lock_guard lock(mu_);
    LockRecord& record = records_[request.name];
    auto token = internal::RecordAcquire(record, request, clock_->Now(), 0);
    if (!token.ok()) return token.status();
    return internal::RecordLease(record, start);
  }

  Result<Lease> Extend(const Lease& lease, std::chrono::milliseconds ttl) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    DLOCK_RETURN_IF_ERROR(ValidateTtl(ttl));
    auto start = clock_->Now();
    std::lock_guard lock(mu_);
    LockRecord& record = Find(lease.name);
    DLOCK_RETURN_IF_ERROR(internal::RecordExtend(record, lease.owner_id, ttl, clock_->Now()));
    return internal::RecordLease(record, start);
  }

  Status Release(const Lease& lease) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    std::lock_guard lock(mu_);
    Status status = internal::RecordRelease(Find(lease.name), lease.owner_id, clock_->Now());
    cv_.notify_all();
    return status;
  }

  Status ForceRelease(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    std::lock_guard lock(mu_);
    Status status = internal::RecordForceRelease(Find(name), clock_->Now());
    cv_.notify_all();
    return status;
  }

  Result<LockState> Inspect(std::string_view name) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    std::lock_guard lock(mu_);
    return internal::RecordState(Find(name), clock_->Now());
  }

  Status WaitForRelease(std::string_view name, std::chrono::steady_clock::time_point deadline,
                        std::stop_token stop) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    std::unique_lock lock(mu_);
    LockRecord& record = Find(name);
    if (!record.HeldAt(clock_->Now())) return OkStatus();
    const std::string owner = record.owner;
    const auto expires = record.expires;
    const auto wake = std::min(deadline, expires);
    bool changed = clock_->WaitUntil(
        lock, cv_, wake, stop, [&] { return record.owner != owner || record.expires != expires; });
    if (changed || clock_->Now() >= expires) return OkStatus();
    if (stop.stop_requested()) return CancelledError("wait cancelled");
    return DeadlineExceededError("still held at the deadline");
  }

  BackendCapabilities capabilities() const override { return {.native_wait = true}; }
  std::string_view kind() const override { return "memory"; }

 private:
  // REQUIRES: mu_ held. std::map keeps references stable.
  LockRecord& Find(std::string_view name) {
    auto it = records_.find(name);
    if (it == records_.end()) {
      it = records_.emplace(std::string(name), LockRecord{}).first;
      it->second.name = std::string(name);
    }
    return it->second;
  }

  const std::shared_ptr<Clock> clock_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::map<std::string, LockRecord, std::less<>> records_;  // guarded by mu_
};

}  // namespace

std::shared_ptr<Backend> MakeMemoryBackend(MemoryOptions options) {
  if (!options.clock) options.clock = SystemClock();
  return std::make_shared<MemoryBackend>(std::move(options.clock));
}

}  // namespace dlock
