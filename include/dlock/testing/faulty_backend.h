// testing/faulty_backend.h: wraps a Backend and injects failures, the way leveldb's
// ErrorEnv wraps an Env: "fail the next 3 acquires with kUnavailable", "every extend
// says not-held", "pretend not to support WaitForRelease". Counts calls per operation.
//
// Thread-safety: safe for concurrent use.
#ifndef DLOCK_TESTING_FAULTY_BACKEND_H_
#define DLOCK_TESTING_FAULTY_BACKEND_H_

#include <array>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>

#include "dlock/backend.h"
#include "dlock/batch_backend.h"
#include "dlock/export.h"
#include "dlock/queueing_backend.h"

namespace dlock::testing {

enum class Op { kTryAcquire, kExtend, kRelease, kForceRelease, kInspect, kWaitForRelease };

// Offers the optional interfaces its inner backend offers but AsyncBackend (its
// asynchronous calls are the blocking ones).
class DLOCK_API FaultyBackend final : public Backend,
                                      public QueueingBackend,
                                      public BatchExtendBackend {
 public:
  explicit FaultyBackend(std::shared_ptr<Backend> inner);

  // The next `n` calls of `op` fail with `code` without reaching the inner backend.
  void FailNext(Op op, int n, Code code);
  // Every call of `op` fails with `code` until Heal(op).
  void FailAlways(Op op, Code code);
  void Heal(Op op);
  // Calls of `op` block (a store that stopped answering) until Unblock().
  void Block(Op op);
  void Unblock();
  // WaitForRelease and WaitForTurn say kUnimplemented (counted), as from a store that
  // cannot wake waiters.
  void DisableNativeWait();

  // Calls of `op` so far, failed ones included (ExtendMany counts a kExtend per lease).
  int calls(Op op) const;
  // The most leases one ExtendMany call carried.
  std::size_t largest_extend_batch() const;

  Result<Lease> TryAcquire(const AcquireRequest& request) override;
  Result<Lease> Extend(const Lease& lease, std::chrono::milliseconds ttl) override;
  // Extend for each lease in turn, so that kExtend faults apply per lease.
  std::vector<Result<Lease>> ExtendMany(const std::vector<Lease>& leases) override;
  Status Release(const Lease& lease) override;
  Status ForceRelease(std::string_view name) override;
  Result<LockState> Inspect(std::string_view name) override;
  Status WaitForRelease(std::string_view name, std::chrono::steady_clock::time_point deadline,
                        std::stop_token stop) override;
  // Counted and faulted as kWaitForRelease.
  Result<std::optional<Lease>> WaitForTurn(const AcquireRequest& request,
                                           std::chrono::steady_clock::time_point deadline,
                                           std::stop_token stop) override;
  Status LeaveQueue(std::string_view name, std::string_view owner_id) override;
  std::string_view kind() const override { return inner_->kind(); }
  DriftMargin drift() const override { return inner_->drift(); }
  bool session_bound() const override { return inner_->session_bound(); }
  QueueingBackend* queueing() override { return inner_->queueing() ? this : nullptr; }
  BatchExtendBackend* batch() override { return inner_->batch() ? this : nullptr; }

 private:
  struct Fault {
    int remaining = 0;  // -1: always
    Code code = Code::kOk;
  };
  // Counts the call; returns the injected failure, or OK to go on to the inner backend.
  Status Enter(Op op);
  // Enter(kWaitForRelease), or kUnimplemented while native waits are disabled.
  Status EnterWait();

  std::shared_ptr<Backend> inner_;
  mutable std::mutex mu_;
  std::array<Fault, 6> faults_{};
  std::array<int, 6> calls_{};
  std::array<bool, 6> blocked_{};
  std::condition_variable unblocked_;
  bool native_wait_disabled_ = false;
  std::size_t largest_extend_batch_ = 0;  // guarded by mu_
};

}  // namespace dlock::testing

#endif  // DLOCK_TESTING_FAULTY_BACKEND_H_
