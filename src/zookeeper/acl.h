// acl.h: what dlock's znodes are created with, and what its sessions authenticate as
// (NodeAcl): with a password (zk://user:password@...), the digest "user:password", and
// nodes ALL for that user and READ for anyone; without one, no digest and open nodes.
// Shared by the backend and the guard.
//
// Thread-safety: constant after construction; not copyable (acl() points into it).
#ifndef DLOCK_SRC_ZOOKEEPER_ACL_H_
#define DLOCK_SRC_ZOOKEEPER_ACL_H_

#include <zookeeper/zookeeper.h>

#include <array>
#include <string>

#include "dlock/backends/zookeeper.h"

namespace dlock::zk {

class NodeAcl {
 public:
  explicit NodeAcl(const ZooKeeperOptions& options) {
    if (options.password) digest_ = options.user + ":" + *options.password;
    if (!digest_.empty()) {
      entries_ = {ACL{ZOO_PERM_ALL, ZOO_AUTH_IDS}, ACL{ZOO_PERM_READ, ZOO_ANYONE_ID_UNSAFE}};
      acl_ = {static_cast<int32_t>(entries_.size()), entries_.data()};
    } else {
      acl_ = ZOO_OPEN_ACL_UNSAFE;
    }
  }
  NodeAcl(const NodeAcl&) = delete;
  NodeAcl& operator=(const NodeAcl&) = delete;

  // For SessionConfig; empty: no authentication. Secret: never log it.
  const std::string& digest() const { return digest_; }
  // For zoo_create and zoo_create_op_init.
  const ACL_vector* acl() const { return &acl_; }

 private:
  std::string digest_;
  std::array<ACL, 2> entries_{};
  ACL_vector acl_{};
};

}  // namespace dlock::zk

#endif  // DLOCK_SRC_ZOOKEEPER_ACL_H_
