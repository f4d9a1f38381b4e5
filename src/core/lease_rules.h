// lease_rules.h: the checks every backend makes before it touches its store, and the
// reading of a holder's stored wall-clock time. The rules themselves (names, TTLs, owner
// ids) are public, in dlock/lease.h; these apply them to a whole request or lease.
//
// Thread-safety: pure functions.
#ifndef DLOCK_SRC_CORE_LEASE_RULES_H_
#define DLOCK_SRC_CORE_LEASE_RULES_H_

#include <chrono>
#include <cstdint>

#include "dlock/backend.h"
#include "dlock/export.h"
#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock::internal {

// DLOCK_API here: exported from a shared libdlock_core for dlock's own backends, which
// call it; internal all the same (this header is not installed).

// kInvalidArgument naming the part that breaks the rules (name, TTL, owner id); else OK.
DLOCK_API Status ValidateAcquireRequest(const AcquireRequest& request);
// The same for the name and owner id of a lease given to Extend or Release.
DLOCK_API Status ValidateLeaseForCall(const Lease& lease);

// A holder's `since` from milliseconds since the epoch as another process stored it:
// values outside 1970..2100 (the clock's nanoseconds overflow in 2262) give the
// epoch. Display only.
DLOCK_API std::chrono::system_clock::time_point WallClockFromMs(std::int64_t ms);

}  // namespace dlock::internal

#endif  // DLOCK_SRC_CORE_LEASE_RULES_H_
