// fence/etcd.h: fenced writes to etcd (v3). The highest token resource R has seen lives
// in the key `PREFIX fence/R` (PREFIX is EtcdOptions::prefix), its value the token as 20
// decimal digits, zero-padded, so that etcd's byte order of values is the tokens' order.
// A write is one etcd transaction that compares that key with the write's token and, if
// the token is not lower, puts the new highest token and runs the write; so the check,
// the record and the write are one atomic step on the server.
//
// A write is
//   {"put", KEY, VALUE}  puts KEY = VALUE; Apply returns "",
//   {"delete", KEY}      deletes KEY; Apply returns "deleted N" (N: 0 or 1 keys).
// KEY is used as given (PREFIX is not prepended) and may not be a fence key (under
// `PREFIX fence/`): kInvalidArgument. A lock named `fence` (or `fence/...`) through the
// etcd backend with the same prefix would share those keys: do not use that name.
//
// A writer that does not go through the guard is not refused: fence every writer.
//
// Thread-safety: safe for concurrent use; all calls share one gRPC channel.
#ifndef DLOCK_FENCE_ETCD_H_
#define DLOCK_FENCE_ETCD_H_

#include <memory>

#include "dlock/backends/etcd.h"
#include "dlock/export.h"
#include "dlock/fence.h"
#include "dlock/status.h"

namespace dlock::fence {

// Connects (and authenticates) as MakeEtcdBackend does, so that an unreachable cluster
// or wrong credentials are reported here: kUnavailable or kFailedPrecondition.
DLOCK_API Result<std::unique_ptr<Guard>> MakeEtcdGuard(const EtcdOptions& options);

}  // namespace dlock::fence

#endif  // DLOCK_FENCE_ETCD_H_
