// locker.h: Locker, the client layer over any Backend. It waits (woken by the store
// where it can, else exponential backoff with full jitter, never past the caller's
// deadline), cancels on a stop_token, renews held locks from one background thread,
// signals loss, and reports Events.
//
// Example:
//   auto backend = dlock::OpenBackend("file:///var/lib/dlock");
//   dlock::Locker locker(*backend);
//   auto lock = locker.Acquire("jobs/nightly", {.wait = std::chrono::seconds(10)});
//   if (!lock.ok()) return lock.status();
//   Write(resource, lock->token());   // the resource rejects tokens older than it has seen
//
// Reentrancy is opt-in (AcquireOptions::reentrant), per holder: the holder of a lock is
// this Locker together with the thread that called Acquire, as with Redisson's RLock and
// Curator's InterProcessMutex. The Locker remembers which names each thread holds
// through Acquire (until their last release or detach), so that a thread taking a name it
// already holds through this Locker never waits on itself: a reentrant Acquire of it
// returns at once another Lock on the same lease, and any other Acquire fails at once
// with kFailedPrecondition. Another thread of the same Locker waits as another holder
// would. The holder stays the acquiring thread even when the Lock is moved to another one.
//
// Thread-safety: a Locker is safe for concurrent use; one Locker serves a whole process.
// It owns two threads, started at the first Acquire and shared by all its Locks (10,000
// held locks are still two threads): one renews, one is a watchdog that declares a lease
// lost at its loss point even while a renewal call to a stalled store has not returned.
#ifndef DLOCK_LOCKER_H_
#define DLOCK_LOCKER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/backend.h"
#include "dlock/backoff.h"
#include "dlock/clock.h"
#include "dlock/events.h"
#include "dlock/export.h"
#include "dlock/lock.h"
#include "dlock/multi_lock.h"
#include "dlock/status.h"

namespace dlock {

struct DLOCK_API LockerOptions {
  // The TTL of each lease unless AcquireOptions::ttl says otherwise.
  std::chrono::milliseconds ttl = std::chrono::seconds(30);
  // Renew every ttl * renew_fraction. Must be in (0, 0.9]. Renewal of a Lock that
  // cannot reach the store is retried, more often as valid_until nears. Renewals due
  // within an eighth of that interval of each other go to the store together
  // (BatchExtendBackend::ExtendMany: one pipelined batch on Redis), up to 1,024 at a time.
  double renew_fraction = 1.0 / 3;
  // Used only where the backend cannot wake waiters (WaitForRelease kUnimplemented), and between
  // attempts that failed with kUnavailable.
  BackoffOptions backoff;
  // Who holds the lock, as stored for Inspect. Default: this host and pid.
  HolderInfo holder = HolderInfo::ThisProcess();
  // null: SystemClock(). Tests pass a testing::ManualClock.
  std::shared_ptr<Clock> clock;
  // null: no events.
  std::shared_ptr<EventListener> listener;
};

struct DLOCK_API AcquireOptions {
  // How long to wait for a held lock. 0: one attempt (returns kContended if held).
  std::chrono::milliseconds wait{0};
  // 0: LockerOptions::ttl.
  std::chrono::milliseconds ttl{0};
  // Cancels the wait: Acquire then returns kCancelled.
  std::stop_token stop;
  // Renew in the background while held. false: the lease ends at its TTL unless extended
  // by hand; lost() still fires shortly before valid_until.
  bool auto_renew = true;
  // Reentrant: this thread may take the lock again through this Locker while it holds it.
  // If it holds `name` already, from a reentrant Acquire whose lease is still held (not
  // released, detached, lost or past valid_until), Acquire returns at once, with no store
  // call, another Lock on that lease: the same token and lost(), one renewal, one hold
  // more; wait, ttl, stop and auto_renew are then ignored (the first Acquire's hold). The
  // lease is freed in the store when the last of its Locks is released or destroyed. Else
  // Acquire acquires as usual, and the lock may be re-entered.
  // false: an Acquire of a name this thread holds through this Locker, reentrant or not,
  // fails at once with kFailedPrecondition; so does a reentrant Acquire of a name held
  // from a non-reentrant one. TryAcquireAsync refuses true (kInvalidArgument).
  bool reentrant = false;
};

class DLOCK_API Locker {
 public:
  explicit Locker(std::shared_ptr<Backend> backend, LockerOptions options = {});
  Locker(const Locker&) = delete;
  Locker& operator=(const Locker&) = delete;
  ~Locker();

  // Returns a held Lock, or
  //   kContended           held by another owner and options.wait == 0,
  //   kDeadlineExceeded    still held by another owner when options.wait ran out,
  //   kUnavailable         the store kept failing (immediately when wait == 0),
  //   kCancelled           options.stop was requested while waiting,
  //   kInvalidArgument     bad name or TTL (at once, nothing sent to the store),
  //   kFailedPrecondition  this thread already holds `name` through this Locker, and this
  //                        is no re-entry (AcquireOptions::reentrant): at once, nothing
  //                        sent to the store, instead of waiting on itself,
  //   or the backend's error that retrying cannot fix.
  // Never returns later than the wait plus one store call. A re-entry returns at once.
  // Events tell of the lease in the store: a re-entry and the release of a hold that is
  // not the last emit none; a self-deadlock refused emits kAcquireFailed.
  // Returns kFailedPrecondition, sending nothing, when called within a callback of
  // TryAcquireAsync or Lock::ReleaseAsync (it would block there).
  Result<Lock> Acquire(std::string_view name, const AcquireOptions& options = {});

  // One attempt without blocking the caller (as Acquire with options.wait == 0; a wait
  // is kInvalidArgument): `done` gets the Lock or Acquire's error, exactly once. Where
  // the backend has an AsyncBackend (Redis, Redlock), this returns at once and `done`
  // runs on the backend's I/O thread, so one thread can keep thousands of acquisitions
  // in flight, pipelined; otherwise `done` runs on the calling thread before this
  // returns. Bad input (a wait, a bad name or TTL) and a stop already requested
  // (kCancelled) are answered on the calling thread before this returns, on any backend;
  // so are options.reentrant (kInvalidArgument: no reentrant lock here) and a name this
  // thread holds through Acquire (kFailedPrecondition, as Acquire). The Lock given to
  // `done` has no holder thread: it is never re-entered, and an Acquire of its name waits
  // for it as for another holder's. `done` must be quick and must not block: release with
  // Lock::ReleaseAsync (Release() and Acquire() return kFailedPrecondition there, and a
  // Lock destroyed there is released asynchronously). The call keeps the backend alive
  // until `done` has run, so the Locker may be destroyed meanwhile.
  void TryAcquireAsync(std::string_view name, const AcquireOptions& options,
                       std::function<void(Result<Lock>)> done);

  // Takes every name of `names` or none (multi_lock.h: canonical order, and no waiting
  // while holding part of the set), within options.wait in all; options.ttl, stop,
  // auto_renew and reentrant apply to each lock. Returns the held MultiLock, or
  //   kInvalidArgument     no names, a name listed twice, or a bad name or TTL (at once,
  //                        nothing sent to the store),
  //   kContended           options.wait == 0 and a name is held elsewhere,
  //   kDeadlineExceeded    a name was still held elsewhere when options.wait ran out,
  //   or the error Acquire gave for a name (the message says which name). Whenever it
  //   fails, nothing of the set is left held. A set of one name is taken exactly as
  //   Acquire takes it, and its errors are Acquire's.
  Result<MultiLock> AcquireAll(const std::vector<std::string>& names,
                               const AcquireOptions& options = {});

  Backend& backend() const;
  const LockerOptions& options() const;

 private:
  std::shared_ptr<internal::LockerCore> core_;
};

}  // namespace dlock

#endif  // DLOCK_LOCKER_H_
