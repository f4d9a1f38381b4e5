// fence/zookeeper.h: fenced writes to ZooKeeper. The highest token resource R has seen
// lives in the persistent znode `ROOT/fence/R` (ROOT is ZooKeeperOptions::root; R is
// joined as lock names are, so a '/' in R makes nested znodes, and an empty, "." or ".."
// component is kInvalidArgument), its data the token in decimal. A write reads that node,
// refuses a token lower than it holds, and otherwise sends one multi: a setData of the
// fence node to the token, conditional on the version read, and the write. If another
// writer changed the fence node in between, the multi fails as a whole and the write is
// tried again (a bounded number of times, then kUnavailable).
//
// A write is
//   {"set", PATH, DATA}     sets the data of the existing node PATH; kFailedPrecondition
//                           if it does not exist. Apply returns "".
//   {"create", PATH, DATA}  creates the persistent node PATH with DATA, or sets its data
//                           if it exists. Apply returns "created" or "" (it existed). A
//                           missing parent is kFailedPrecondition.
// PATH is absolute, as the server takes it (ROOT is not prepended), and may not be under
// `ROOT/fence`: kInvalidArgument. With digest auth, nodes the guard creates are ALL for
// its user and READ for anyone, as the backend's. A lock named `fence/...` through the
// zk:// backend with the same root would share those znodes: do not use such names.
//
// A writer that does not go through the guard is not refused: fence every writer.
//
// Thread-safety: safe for concurrent use; all calls share one session (of
// ZooKeeperOptions::session_timeout), opened again if it expires.
#ifndef DLOCK_FENCE_ZOOKEEPER_H_
#define DLOCK_FENCE_ZOOKEEPER_H_

#include <memory>

#include "dlock/backends/zookeeper.h"
#include "dlock/export.h"
#include "dlock/fence.h"
#include "dlock/status.h"

namespace dlock::fence {

// Opens the session, so that an unreachable ensemble is reported here: kUnavailable
// (kFailedPrecondition if the server refuses the credentials).
DLOCK_API Result<std::unique_ptr<Guard>> MakeZooKeeperGuard(const ZooKeeperOptions& options);

}  // namespace dlock::fence

#endif  // DLOCK_FENCE_ZOOKEEPER_H_
