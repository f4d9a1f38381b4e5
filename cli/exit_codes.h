// exit_codes.h: the CLI's exit codes (README.md and dlock(1)), from sysexits.h so they do not
// collide with a child's usual 1 and 2.
#ifndef DLOCK_CLI_EXIT_CODES_H_
#define DLOCK_CLI_EXIT_CODES_H_

#include "dlock/status.h"

namespace dlock::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNotHeld = 1;       // release/extend: not held by this owner
inline constexpr int kExitUsage = 64;        // EX_USAGE: bad argument, URI, duration, name
inline constexpr int kExitUnavailable = 69;  // EX_UNAVAILABLE: store unreachable or refusing us
inline constexpr int kExitSoftware = 70;     // EX_SOFTWARE: a bug
inline constexpr int kExitNotAcquired = 75;  // EX_TEMPFAIL: not acquired within --wait
inline constexpr int kExitLost = 76;         // run: the lock was lost while the child ran
inline constexpr int kExitStale = 77;        // EX_NOPERM: fence: the token is stale, not written
inline constexpr int kExitCannotExecute = 126;
inline constexpr int kExitCommandNotFound = 127;

// The exit code for a failed operation's status.
int ExitCodeFor(Code code);

}  // namespace dlock::cli

#endif  // DLOCK_CLI_EXIT_CODES_H_
