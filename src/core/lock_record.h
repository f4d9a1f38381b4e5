// lock_record.h: the state machine of one lock name, for the stores that keep the record
// themselves (memory, file): who holds it until when, the wait line, and the fencing
// counter. The checks every backend makes are in core/lease_rules.h.
//
// Thread-safety: none; the caller serializes access to a record (mutex, flock).
#ifndef DLOCK_SRC_CORE_LOCK_RECORD_H_
#define DLOCK_SRC_CORE_LOCK_RECORD_H_

#include <chrono>
#include <string>
#include <vector>

#include "dlock/backend.h"
#include "dlock/export.h"
#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock::internal {

// DLOCK_API here: exported from a shared libdlock_core for dlock's own backends, which
// call it; internal all the same (this header is not installed).

using TimePoint = std::chrono::steady_clock::time_point;

// A queued waiter that has not tried again within this is dropped from the line (it
// crashed); waiters try again at least every kWaiterLease / 3.
inline constexpr std::chrono::milliseconds kWaiterLease{3000};

struct QueuedWaiter {
  std::string owner;
  TimePoint expires{};
};

struct LockRecord {
  std::string name;
  FencingToken token = 0;  // the last token issued
  std::string owner;       // empty: free
  TimePoint expires{};
  std::chrono::milliseconds ttl{0};
  HolderInfo holder;
  std::vector<QueuedWaiter> queue;  // waiters in arrival order (AcquireRequest::queue)

  bool HeldAt(TimePoint now) const { return !owner.empty() && now < expires; }
};

// If the record is free at `now` and no queued waiter comes first, grants it to
// request.owner_id with the token max(token, token_floor) + 1 and returns that token
// (taking the owner out of the line); else kContended naming the holder, after putting a
// queued request in line or refreshing its place. Drops waiters whose lease ran out.
DLOCK_API Result<FencingToken> RecordAcquire(LockRecord& record, const AcquireRequest& request,
                                             TimePoint now, FencingToken token_floor);

// The record operations below clear an expired holder as they pass.
DLOCK_API Status RecordExtend(LockRecord& record, const std::string& owner,
                              std::chrono::milliseconds ttl, TimePoint now);
DLOCK_API Status RecordRelease(LockRecord& record, const std::string& owner, TimePoint now);
DLOCK_API Status RecordForceRelease(LockRecord& record, TimePoint now);
DLOCK_API LockState RecordState(const LockRecord& record, TimePoint now);

// Takes `owner` out of the line; false if it was not in it.
DLOCK_API bool RecordLeaveQueue(LockRecord& record, std::string_view owner);

// True while `waiter` has to wait: the lock is held, or others are ahead in the line.
DLOCK_API bool RecordMustWait(const LockRecord& record, TimePoint now, std::string_view waiter);

// A Lease for `record`'s holder, valid from `start` (read before the operation began).
DLOCK_API Lease RecordLease(const LockRecord& record, TimePoint start, const DriftMargin& drift);

// "host h pid p (token t)", for contention messages.
DLOCK_API std::string DescribeHolder(const LockRecord& record);

}  // namespace dlock::internal

#endif  // DLOCK_SRC_CORE_LOCK_RECORD_H_
