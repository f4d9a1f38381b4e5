// backend.h: the one interface every store (file, Redis, etcd, ZooKeeper...) implements.
//
// Every call makes exactly one attempt: no waiting for a busy lock, no retries. Waiting,
// backoff, renewal and events belong to Locker (locker.h).
//
// Thread-safety: implementations are safe for concurrent use from many threads.
#ifndef DLOCK_BACKEND_H_
#define DLOCK_BACKEND_H_

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock {

struct AcquireRequest {
  std::string name;                  // REQUIRES: ValidateName(name).ok()
  std::chrono::milliseconds ttl{0};  // REQUIRES: ValidateTtl(ttl).ok()
  std::string owner_id;              // REQUIRES: ValidateOwnerId(owner_id).ok(); see NewOwnerId()
  HolderInfo holder;                 // stored for Inspect where the store can keep it
  // The caller will wait and try again with the same owner id until it gets the lock or
  // calls LeaveQueue. A backend with a wait queue then keeps this owner in line (FIFO):
  // once there is a line, a free lock goes to its head only, not to whoever asks first.
  bool queue = false;
};

struct BackendCapabilities {
  // WaitForRelease is implemented (woken by the store), so waiters need not poll.
  bool native_wait = false;
  // Leases live in this client's session with the store (ZooKeeper): the store keeps
  // them while this process keeps the session alive, whether or not Extend is called,
  // and drops them when the session ends: this process exits, or stops talking to the
  // store for longer than the TTL. A lease cannot outlive the Backend object, so it
  // cannot be handed to another process (`dlock acquire` refuses such stores).
  bool session_bound = false;
  // Queued waiters (AcquireRequest::queue) are served in the order they queued, and
  // Inspect counts them.
  bool fifo = false;
  // ExtendMany answers a whole batch in about the time of one Extend (one pipelined
  // round trip). Locker then renews leases that fall due together in one call (a Release
  // of one of them waits for the call); otherwise it renews them one at a time.
  bool batch_extend = false;
  // TryAcquireAsync and ReleaseAsync return before the store answers (Redis: the calls
  // are pipelined on the client's connections and `done` runs on its I/O thread), so
  // one thread can keep many calls in flight. Otherwise they run the blocking call and
  // `done` runs on the calling thread before they return.
  bool async_calls = false;
};

// What an asynchronous call reports, exactly once.
using AcquireCallback = std::function<void(Result<Lease>)>;
using StatusCallback = std::function<void(Status)>;

class Backend {
 public:
  virtual ~Backend() = default;

  // Takes the lock if it is free (never held, released, or its TTL passed). Returns the
  // Lease with a fresh fencing token, or
  //   kContended        another owner holds it,
  //   kInvalidArgument  bad name, TTL or owner id,
  //   kUnavailable      the store could not be reached,
  //   kFailedPrecondition the store refuses us (permissions, auth, corrupt state).
  virtual Result<Lease> TryAcquire(const AcquireRequest& request) = 0;

  // Sets the lock's remaining TTL to `ttl` if `lease.owner_id` still holds `lease.name`;
  // returns the lease with the same token and a new valid_until. Only name and owner_id of
  // `lease` are used. kNotHeld if it expired, was released or is held by another owner:
  // the lease is then gone for good. Other codes as TryAcquire.
  virtual Result<Lease> Extend(const Lease& lease, std::chrono::milliseconds ttl) = 0;

  // Extend for each of `leases`, each by its own `ttl`; the results in the same order.
  // A store that can pipelines them (Redis: one round trip for the batch, and
  // capabilities().batch_extend), so that one process renewing thousands of locks sends
  // few packets. The default calls Extend for each in turn.
  virtual std::vector<Result<Lease>> ExtendMany(const std::vector<Lease>& leases);

  // Frees the lock if `lease.owner_id` holds it. Idempotent: kNotHeld when it was not
  // held by this owner (already released, expired, another owner), and nothing changes.
  virtual Status Release(const Lease& lease) = 0;

  // TryAcquire and Release without blocking: `done` gets what they would return, exactly
  // once, on a thread of the backend's or on the calling thread (see
  // capabilities().async_calls). `done` must be quick and must not block: it may start
  // further asynchronous calls, but a blocking call on this backend from it may
  // deadlock. Keep the backend alive until `done` has run (Locker's calls do); the last
  // reference may be dropped within `done`. The defaults call the blocking forms.
  virtual void TryAcquireAsync(const AcquireRequest& request, AcquireCallback done);
  virtual void ReleaseAsync(const Lease& lease, StatusCallback done);

  // Frees the lock whoever holds it: for an operator breaking a stuck lock. The holder
  // finds out at its next renewal. kNotHeld if it was not held.
  virtual Status ForceRelease(std::string_view name) = 0;

  // Reads the lock's state; changes nothing.
  virtual Result<LockState> Inspect(std::string_view name) = 0;

  // Blocks until the lock `name` may be free: released, its holder's TTL passed, or
  // changed in the store. Returns OK then (the caller tries again), or
  // kDeadlineExceeded at `deadline`, kCancelled on `stop`. Backends without
  // capabilities().native_wait return kUnimplemented at once and callers poll instead.
  // `waiter`: the owner id of a queued request (AcquireRequest::queue), so that a waiter
  // who is not at the head of the line sleeps until the next change; empty: not queued.
  virtual Status WaitForRelease(std::string_view name,
                                std::chrono::steady_clock::time_point deadline,
                                std::stop_token stop, std::string_view waiter = {});

  // WaitForRelease for a request that failed with kContended, as its waiter
  // (request.owner_id), for a caller about to try it again. A backend that hands a
  // released lock to the head of its line in the same step (Redis) returns that grant
  // here: a Lease as TryAcquire's, valid from when the request was last sent, so that the
  // caller need not ask again. Otherwise nullopt, and the caller must call TryAcquire
  // again (which returns a lock handed over meanwhile) or LeaveQueue. Errors as
  // WaitForRelease's. A lock handed over but never returned (an error, a stop) stays with
  // the owner until its TTL or LeaveQueue. The default calls WaitForRelease.
  virtual Result<std::optional<Lease>> WaitForTurn(const AcquireRequest& request,
                                                   std::chrono::steady_clock::time_point deadline,
                                                   std::stop_token stop);

  // Takes `owner_id` out of the lock's wait queue, if the backend keeps one: a waiter that
  // gives up (deadline, cancellation) must not hold up those behind it, and a lock handed
  // to it by WaitForTurn and never returned is freed. Idempotent.
  virtual Status LeaveQueue(std::string_view name, std::string_view owner_id);

  virtual BackendCapabilities capabilities() const = 0;

  // Short store name for logs and metrics labels: "file", "memory", "redis"...
  virtual std::string_view kind() const = 0;
};

}  // namespace dlock

#endif  // DLOCK_BACKEND_H_
