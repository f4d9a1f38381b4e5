// open.h: a Backend from a URI, e.g. OpenBackend("file:///var/lib/dlock").
//
// Thread-safety: thread-safe.
#ifndef DLOCK_OPEN_H_
#define DLOCK_OPEN_H_

#include <memory>
#include <string_view>

#include "dlock/backend.h"
#include "dlock/export.h"
#include "dlock/fence.h"
#include "dlock/status.h"
#include "dlock/uri.h"

namespace dlock {

// kInvalidArgument for a malformed URI, an unknown scheme or an unknown option;
// kUnimplemented for a backend this build does not have; kFailedPrecondition or
// kUnavailable if the store cannot be opened (e.g. the file backend's directory).
DLOCK_API Result<std::shared_ptr<Backend>> OpenBackend(std::string_view uri);
DLOCK_API Result<std::shared_ptr<Backend>> OpenBackend(const BackendUri& uri);

// A fencing guard (fence.h) for the store a resource lives in: "file" (the resource is
// a file's path), redis://, rediss://, etcd://, zk://, postgres:// or postgresql:// (a
// libpq URI), as this build has them. Errors as OpenBackend's; the store is reached at
// once, so that an unreachable one or wrong credentials are reported here.
DLOCK_API Result<std::unique_ptr<fence::Guard>> OpenGuard(std::string_view store);

}  // namespace dlock

#endif  // DLOCK_OPEN_H_
