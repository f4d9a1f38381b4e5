// fence.h: fencing at the resource. A fencing token protects nothing until the store
// that receives a write checks it; a Guard is that check, for a store people write to
// (Redis, PostgreSQL, files, etcd, ZooKeeper), which may be another store than the
// lock's.
//
// The rule, the same for every guard: per resource, the guard keeps H, the highest
// token it has seen. A write carrying token T is applied if T >= H, and H becomes T, in
// one atomic step with the write; otherwise it is refused with kStale and nothing is
// written. `>=`, not `>`: a holder may write many times under one grant, and every later
// grant has a greater token (docs/fencing.md says which tokens to pass for each shape).
//
// Thread-safety: a Guard is safe for concurrent use.
#ifndef DLOCK_FENCE_H_
#define DLOCK_FENCE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/export.h"
#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock::fence {

class DLOCK_API Guard {
 public:
  virtual ~Guard() = default;

  // Applies `write` to the store if `token` >= the highest token `resource` has seen,
  // recording `token` as the highest, atomically with the write. What `write` is
  // depends on the store (see its header under dlock/fence/): a Redis command, an SQL
  // statement and its parameters, a file's new content, an etcd or ZooKeeper put.
  // Returns the store's answer to the write, as text (a Redis reply, rows changed...),
  // or
  //   kStale            a newer token was seen; nothing was written,
  //   kInvalidArgument  an empty resource, token 0, or a write the store cannot run,
  //   kUnavailable      the store could not be reached (the write may not have run:
  //                     the same token may try again),
  //   kFailedPrecondition the store refuses us (auth, permissions) or the write failed
  //                     there (then nothing was written and H is unchanged).
  virtual Result<std::string> Apply(std::string_view resource, FencingToken token,
                                    const std::vector<std::string>& write) = 0;

  // The highest token `resource` has seen; 0 if none.
  virtual Result<FencingToken> Highest(std::string_view resource) = 0;

  // The store's name: "redis", "postgres", "file", "etcd", "zk".
  virtual std::string_view kind() const = 0;
};

// The kStale status every guard returns: names the resource and both tokens.
DLOCK_API Status StaleTokenError(std::string_view resource, FencingToken token,
                                 FencingToken highest);

// Checks what every guard checks first: a resource name of 1 to kMaxNameLength bytes
// without control characters, a token above 0, and a write that is not empty.
DLOCK_API Status ValidateFencedWrite(std::string_view resource, FencingToken token,
                                     const std::vector<std::string>& write);

}  // namespace dlock::fence

#endif  // DLOCK_FENCE_H_
