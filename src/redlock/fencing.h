// fencing.h: the second round of a Redlock acquisition, which makes fencing tokens
// strictly increasing (see dlock/backends/redlock.h): the counters of the instances won
// in round 1 are raised to T, the largest counter round 1 returned.
//
// Thread-safety: may be called from many threads at once.
#ifndef DLOCK_SRC_REDLOCK_FENCING_H_
#define DLOCK_SRC_REDLOCK_FENCING_H_

#include <chrono>
#include <string>
#include <vector>

#include "dlock/lease.h"
#include "dlock/status.h"
#include "redis/client/client.h"
#include "redlock/round.h"

namespace dlock::redlock {

// Runs `raise` (lua/raise.lua) for `owner` and `token` on the instances `won`, and waits
// until `quorum` of them confirmed it, or `deadline`. OK when a quorum did; else
// kUnavailable naming how many did (the lock is still ours on the others: the caller
// releases it everywhere).
Status RaiseFencing(const Clients& clients, const redis::Script& raise,
                    const std::vector<std::string>& keys, const std::string& name,
                    const std::string& owner, const std::vector<std::size_t>& won,
                    FencingToken token, int quorum, std::chrono::steady_clock::time_point deadline);

// The raise round's outcome from its replies, as RaiseFencing returns it (for the
// asynchronous acquire, which runs the round with RoundAsync).
Status RaiseOutcome(const redis::Replies& raised, const std::string& name, std::size_t instances,
                    int quorum);

}  // namespace dlock::redlock

#endif  // DLOCK_SRC_REDLOCK_FENCING_H_
