// fence/redis.h: fenced writes to a Redis server, which may be another than the lock's.
// The highest token resource R has seen lives at `PREFIX{R}:fence` (PREFIX is
// options.prefix; the hash tag {R} as in the lock's keys), a decimal string. A write is
// checked, run and recorded by one Lua script (src/redis/common/lua/fence.lua), so no other
// command runs in between: a write with token T runs iff T >= the recorded token, which
// then becomes T; a stale one is refused with kStale and nothing runs.
//
// A write is a Redis command and its arguments, run by the script with redis.pcall:
//   {"SET", "stock", "19"}   {"HSET", "h", "f", "v"}   {"DEL", "k"}   {"INCRBY", "n", "-1"}
// or the caller's own script body, which runs after the check as EVAL would run it:
//   {"EVAL", BODY, NUMKEYS, KEY..., ARG...}
// The guard sends one script: BODY wrapped in `local function dlock_write(KEYS, ARGV)`
// (on BODY's first line, so that Redis's line numbers in errors are BODY's own), then the
// check. The script's own KEYS are {fence key, KEY...} and its ARGV {token, ARG...}; the
// check calls dlock_write with KEY... and ARG... alone, which BODY sees as KEYS and ARGV
// (function parameters shadow Redis's read-only globals). BODY must be a Lua chunk on
// its own (its `end`s balanced) and may not start with a `#!` shebang (flags). The joined
// script is sent by EVALSHA (EVAL once, and again after a NOSCRIPT). The command forms
// EVALSHA, EVAL_RO, EVALSHA_RO, FCALL and FCALL_RO are refused (kInvalidArgument).
//
// Apply returns the write's reply as text: a status or bulk string as is, an integer in
// decimal, nil as "(nil)", an array as its elements one per line (nested arrays
// flattened; an empty array is ""). A write that fails on the server (an error reply: a
// wrong type, an unknown command, a command not allowed in scripts, an error BODY raises
// or returns) is kFailedPrecondition with Redis's message on one line, and the token is
// not raised. Redis does not roll a script back: a BODY that fails after it wrote keeps
// those writes (a single command writes nothing when it fails). A server that is loading,
// busy with another script or read-only (a replica) is kUnavailable: nothing was written.
//
// Redis Cluster (not supported yet): the script declares the fence key as KEYS[1] and
// BODY's KEYs after it, so a cluster could route it; every key a write touches must then
// hash to R's slot: put `{R}` in their names ("{stock}:count").
//
// Only writes through the guard are checked: fence every writer of the resource.
//
// Thread-safety: safe for concurrent use; calls from many threads share a few
// connections.
#ifndef DLOCK_FENCE_REDIS_H_
#define DLOCK_FENCE_REDIS_H_

#include <memory>

#include "dlock/backends/redis.h"
#include "dlock/export.h"
#include "dlock/fence.h"
#include "dlock/status.h"

namespace dlock::fence {

// Connects and PINGs once, as MakeRedisBackend does: an unreachable server is
// kUnavailable, a wrong password kFailedPrecondition (the password never appears in the
// message), bad TLS options kInvalidArgument. kind() is "redis".
DLOCK_API Result<std::unique_ptr<Guard>> MakeRedisGuard(const RedisOptions& options);

}  // namespace dlock::fence

#endif  // DLOCK_FENCE_REDIS_H_
