// The in-process backend: one LockRecord per name behind a mutex; waiters sleep on a
// condition variable that Release notifies.
#include <condition_variable>
#include <map>
#include <mutex>

#include "core/lease_rules.h"
#include "core/line_backend.h"
#include "core/lock_record.h"
#include "dlock/backends/memory.h"
#include "dlock/batch_backend.h"

namespace dlock {
namespace {

using internal::LockRecord;

class MemoryBackend final : public internal::LineBackend, public BatchExtendBackend {
 public:
  explicit MemoryBackend(std::shared_ptr<Clock> clock) : clock_(std::move(clock)) {}

  Result<Lease> TryAcquire(const AcquireRequest& request) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateAcquireRequest(request));
    auto start = clock_->Now();
    std::lock_guard lock(mu_);
    LockRecord& record = records_[request.name];
    auto token = internal::RecordAcquire(record, request, clock_->Now(), 0);
    if (!token.ok()) return token.status();
    return internal::RecordLease(record, start, {});
  }

  Result<Lease> Extend(const Lease& lease, std::chrono::milliseconds ttl) override {
    DLOCK_RETURN_IF_ERROR(internal::ValidateLeaseForCall(lease));
    DLOCK_RETURN_IF_ERROR(ValidateTtl(ttl));
    auto start = clock_->Now();
    std::lock_guard lock(mu_);
    LockRecord& record = Find(lease.name);
    DLOCK_RETURN_IF_ERROR(internal::RecordExtend(record, lease.owner_id, ttl, clock_->Now()));
    return internal::RecordLease(record, start, {});
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

  Status Wait(std::string_view name, std::chrono::steady_clock::time_point deadline,
              std::stop_token stop, std::string_view waiter) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    std::unique_lock lock(mu_);
    LockRecord& record = Find(name);
    const auto now = clock_->Now();
    if (!internal::RecordMustWait(record, now, waiter)) return OkStatus();
    // Wake on any change, at the holder's expiry, and, for a queued waiter, in time to
    // renew its place in line.
    const std::string owner = record.owner;
    const auto expires = record.expires;
    const auto front = record.queue.empty() ? std::string() : record.queue.front().owner;
    auto wake = std::min(deadline, record.HeldAt(now) ? expires : Clock::TimePoint::max());
    if (!waiter.empty()) wake = std::min(wake, now + internal::kWaiterLease / 3);
    bool changed = clock_->WaitUntil(lock, cv_, wake, stop, [&] {
      return record.owner != owner || record.expires != expires ||
             (record.queue.empty() ? std::string() : record.queue.front().owner) != front;
    });
    if (stop.stop_requested() && !changed) return CancelledError("wait cancelled");
    if (changed || clock_->Now() < deadline) return OkStatus();
    return DeadlineExceededError("still held at the deadline");
  }

  Status LeaveQueue(std::string_view name, std::string_view owner_id) override {
    DLOCK_RETURN_IF_ERROR(ValidateName(name));
    std::lock_guard lock(mu_);
    if (internal::RecordLeaveQueue(Find(name), owner_id)) cv_.notify_all();
    return OkStatus();
  }

  // BatchExtendBackend: in-process, a batch of extends takes microseconds, so Locker
  // may as well send them together.
  std::vector<Result<Lease>> ExtendMany(const std::vector<Lease>& leases) override {
    return ExtendEach(*this, leases);
  }

  BatchExtendBackend* batch() override { return this; }
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
