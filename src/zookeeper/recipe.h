// recipe.h: the names and the order of the lock recipe's znodes, shared with Curator's
// InterProcessMutex and kazoo's Lock. Pure functions; no ZooKeeper calls.
#ifndef DLOCK_ZOOKEEPER_RECIPE_H_
#define DLOCK_ZOOKEEPER_RECIPE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/status.h"

namespace dlock::zk {

// One child of a lock znode that takes part in the lock: ours and Curator's
// (`_c_<uuid>-lock-<seq>`), kazoo's (`<hex>__lock__<seq>`, `<hex>__rlock__<seq>`).
struct Contender {
  std::string node;  // the child's name
  // The ten digits the server appended (eleven characters with a '-' once the parent's
  // counter passed 2^31). Compared as text, as Curator and kazoo do, so that all agree on
  // who is first.
  std::string sequence;
};

// `root` (the URI's path) joined with the lock `name`: "/locks" + "jobs" -> "/locks/jobs".
// kInvalidArgument if the result is not a ZooKeeper path we may use: an empty, "." or
// ".." component (a name with '/' makes nested znodes), or one under /zookeeper.
Result<std::string> LockPath(std::string_view root, std::string_view name);

// The uuid in our node names for `owner_id`: the first 128 bits of SHA-256(owner_id), in
// the 8-4-4-4-12 form. Node names are public; the owner id stays secret.
std::string OwnerUuid(std::string_view owner_id);

// What we create under the lock znode, as an ephemeral sequential node:
// "_c_<uuid>-lock-" (the server appends ten digits).
std::string NodePrefix(std::string_view owner_id);

// The child of `children` that `owner_id` created, if any.
std::optional<std::string> FindOwnNode(const std::vector<std::string>& children,
                                       std::string_view owner_id);

// The contenders among `children`, lowest sequence (the holder) first.
std::vector<Contender> SortContenders(const std::vector<std::string>& children);

}  // namespace dlock::zk

#endif  // DLOCK_ZOOKEEPER_RECIPE_H_
