// locker_core.h: the state a Locker shares with its Locks: the backend, the options, the
// Renewer with its two threads, and what they do to each held lease (HeldLock).
//
// The members are defined by concern: acquire.cc (the acquire path), renewal.cc (the
// renewal and loss steps the Renewer runs), release.cc (release and detach), locker.cc
// (construction, events, the public Locker).
//
// Thread-safety: LockerCore is safe for concurrent use.
#ifndef DLOCK_SRC_CORE_LOCKER_CORE_H_
#define DLOCK_SRC_CORE_LOCKER_CORE_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/async_scope.h"
#include "core/held_lock.h"
#include "core/mutex.h"
#include "core/renewer.h"
#include "dlock/async_backend.h"
#include "dlock/locker.h"

namespace dlock::internal {

class LockerCore : public std::enable_shared_from_this<LockerCore> {
 public:
  LockerCore(std::shared_ptr<Backend> backend, LockerOptions options);

  Backend& backend() const { return *backend_; }
  const LockerOptions& options() const { return options_; }
  Clock& clock() const { return *options_.clock; }

  // See Locker::Acquire. A re-entry (AcquireOptions::reentrant) returns the HeldLock this
  // thread holds, with one hold more.
  Result<std::shared_ptr<HeldLock>> Acquire(std::string_view name, const AcquireOptions& options);
  // Acquire's one attempt without blocking (see Locker::TryAcquireAsync); `done` runs
  // within an AsyncCallbackScope.
  using HeldCallback = std::function<void(Result<std::shared_ptr<HeldLock>>)>;
  void TryAcquireAsync(std::string_view name, const AcquireOptions& options, HeldCallback done);
  // Gives up one hold of `held` (see Lock::Release); the last one frees it in the store.
  // Called at most once per Lock.
  Status Release(HeldLock& held);
  // See Lock::ReleaseAsync; as Release, one hold. `done` (not null) runs within an
  // AsyncCallbackScope.
  void ReleaseAsync(const std::shared_ptr<HeldLock>& held, StatusCallback done);
  // Detaches the lease, for every hold of it.
  Lease Detach(HeldLock& held);
  void Emit(EventKind kind, std::string_view name, FencingToken token,
            std::chrono::nanoseconds elapsed, Status status = OkStatus()) const;

 private:
  // --- acquire.cc
  // The request for an acquisition of `name`, validated.
  Result<AcquireRequest> MakeRequest(std::string_view name, const AcquireOptions& options) const;
  // A lease granted to an acquisition that started at `start`: held, announced, queued
  // for renewal.
  // `holder`: the thread that called Acquire, under which it is known in holders_
  // (kNoThread for TryAcquireAsync).
  std::shared_ptr<HeldLock> Granted(Lease lease, const AcquireOptions& options, TimePoint start,
                                    ThreadSerial holder);
  // What this thread holds of `name` through Acquire, for an Acquire of it: null if
  // nothing still held (not released, detached, lost or expired); the HeldLock with one
  // hold more if both it and this Acquire are reentrant; else the kFailedPrecondition
  // of a self-deadlock.
  Result<std::shared_ptr<HeldLock>> HeldByThisThread(const std::string& name,
                                                     const AcquireOptions& options)
      EXCLUDES(holders_mu_);

  // --- renewal.cc: the Renewer's steps
  // The renewal thread's step: a batch in one ExtendMany where the backend batches,
  // else one lease at a time.
  std::vector<std::optional<TimePoint>> Renew(const Renewer::Batch& due);
  // Renews (or checks) a batch of leases with one ExtendMany; returns when to look at
  // each next, or nothing.
  std::vector<std::optional<TimePoint>> Service(const Renewer::Batch& batch);
  // The watchdog's step, per lease: the new loss point if renewed meanwhile, else
  // declares the loss.
  std::optional<TimePoint> CheckLoss(const std::shared_ptr<HeldLock>& held);
  // kHeld -> kLost, once; then the event and lost(). Call without held.mu.
  void DeclareLost(HeldLock& held, Status reason);

  // --- release.cc
  // Release's first step, with held.mu locked: marks `held` released. `free`: the
  // lease to free in the store; `answer`: what to return whatever the store says (no
  // lease to free, or a lost one freed for good measure); neither set: return the
  // store's answer, reported as a kReleased event.
  struct ReleasePlan {
    std::optional<Lease> free;
    std::optional<Status> answer;
  };
  ReleasePlan PlanRelease(HeldLock& held) REQUIRES(held.mu);
  // Gives up one hold of `held` if it has others (the lease stays), and returns what
  // that Release answers; nothing if this is its last hold.
  std::optional<Status> DropOneOfSeveralHolds(HeldLock& held) REQUIRES(held.mu);
  // Takes `held` out of holders_, where it was known as its holder's (at its last
  // release, or its detach). Call without held.mu.
  void Forget(const HeldLock& held) EXCLUDES(holders_mu_);
  // ReleaseAsync's second step, without held.mu: frees plan.free and answers `done`.
  void SendRelease(const std::shared_ptr<HeldLock>& held, const ReleasePlan& plan,
                   StatusCallback done);

  const std::shared_ptr<Backend> backend_;
  const LockerOptions options_;
  // The leases each thread holds through Acquire, by name: for re-entry and for the
  // self-deadlock check. An entry goes at the lease's last release or detach; one whose
  // lease is no longer held (lost, expired) counts as nothing until then. Never locked
  // together with a HeldLock's mu.
  Mutex holders_mu_;
  std::map<std::pair<std::string, ThreadSerial>, std::weak_ptr<HeldLock>> holders_
      GUARDED_BY(holders_mu_);
  Renewer renewer_;  // declared last: its threads stop first
};

}  // namespace dlock::internal

#endif  // DLOCK_SRC_CORE_LOCKER_CORE_H_
