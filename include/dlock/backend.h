// backend.h: the one interface every store (file, Redis, etcd, ZooKeeper...) implements.
//
// Every call makes exactly one attempt: no waiting for a busy lock, no retries. Waiting,
// backoff, renewal and events belong to Locker (locker.h).
//
// The core is seven calls that every store implements. What only some stores can do is
// an optional interface of its own, which a backend offers through an accessor here and
// Locker discovers at run time; a new store implements none of them and works:
//   queueing_backend.h  a FIFO wait line (file, memory, Redis, etcd, ZooKeeper)
//   async_backend.h     acquire and release without blocking (Redis, Redlock)
//   batch_backend.h     many renewals in one round trip (Redis, memory)
//
// Thread-safety: implementations are safe for concurrent use from many threads.
#ifndef DLOCK_BACKEND_H_
#define DLOCK_BACKEND_H_

#include <chrono>
#include <stop_token>
#include <string>
#include <string_view>

#include "dlock/export.h"
#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock {

class AsyncBackend;
class BatchExtendBackend;
class QueueingBackend;

struct DLOCK_API AcquireRequest {
  std::string name;                  // REQUIRES: ValidateName(name).ok()
  std::chrono::milliseconds ttl{0};  // REQUIRES: ValidateTtl(ttl).ok()
  std::string owner_id;              // REQUIRES: ValidateOwnerId(owner_id).ok(); see NewOwnerId()
  HolderInfo holder;                 // stored for Inspect where the store can keep it
  // The caller will wait and try again with the same owner id until it gets the lock or
  // calls QueueingBackend::LeaveQueue. A backend with a wait line (queueing() not null)
  // then keeps this owner in line (FIFO): once there is a line, a free lock goes to its
  // head only, not to whoever asks first. Other backends ignore it.
  bool queue = false;
};

class DLOCK_API Backend {
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

  // Frees the lock if `lease.owner_id` holds it. Idempotent: kNotHeld when it was not
  // held by this owner (already released, expired, another owner), and nothing changes.
  virtual Status Release(const Lease& lease) = 0;

  // Blocks until the lock `name` may be free: released, its holder's TTL passed, or
  // changed in the store. Returns OK then (the caller tries again), or
  // kDeadlineExceeded at `deadline`, kCancelled on `stop`. A store that cannot wake
  // waiters returns kUnimplemented at once, and callers poll with backoff instead.
  virtual Status WaitForRelease(std::string_view name,
                                std::chrono::steady_clock::time_point deadline,
                                std::stop_token stop) = 0;

  // Reads the lock's state; changes nothing.
  virtual Result<LockState> Inspect(std::string_view name) = 0;

  // Frees the lock whoever holds it: for an operator breaking a stuck lock. The holder
  // finds out at its next renewal. kNotHeld if it was not held.
  virtual Status ForceRelease(std::string_view name) = 0;

  // Short store name for logs and metrics labels: "file", "memory", "redis"...
  virtual std::string_view kind() const = 0;

  // Leases live in this client's session with the store (ZooKeeper): the store keeps
  // them while this process keeps the session alive, whether or not Extend is called,
  // and drops them when the session ends: this process exits, or stops talking to the
  // store for longer than the TTL. A lease cannot outlive the Backend object, so it
  // cannot be handed to another process (`dlock acquire` refuses such stores).
  // Default: false.
  virtual bool session_bound() const { return false; }

  // The clock drift margin this backend leaves out of every lease's validity
  // (dlock/lease.h; ?drift_factor= and ?drift_ms= of its URI). Locker refuses a TTL
  // that the margin does not leave at least half of.
  virtual DriftMargin drift() const { return {}; }

  // The optional interfaces this backend offers: itself, or null where it has not that
  // ability (the defaults). A wrapper (FaultyBackend) offers what its inner backend
  // offers. The pointers live as long as the backend.
  virtual QueueingBackend* queueing() { return nullptr; }
  virtual AsyncBackend* async() { return nullptr; }
  virtual BatchExtendBackend* batch() { return nullptr; }
};

}  // namespace dlock

#endif  // DLOCK_BACKEND_H_
