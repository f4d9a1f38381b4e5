// reply_error.h: a server's error reply as a Status, for every user of the client.
//
// Thread-safety: a pure function.
#ifndef DLOCK_SRC_REDIS_CLIENT_REPLY_ERROR_H_
#define DLOCK_SRC_REDIS_CLIENT_REPLY_ERROR_H_

#include <string>

#include "dlock/status.h"
#include "redis/client/protocol.h"

namespace dlock::redis {

// An error reply (or a reply of the wrong shape) as a Status: kFailedPrecondition for
// authentication and permission errors and for a fencing token that would overflow
// (DLOCK_OVERFLOW, from the scripts: asking again cannot help), kUnavailable for the rest.
Status ReplyError(const std::string& endpoint, const Reply& r);

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_CLIENT_REPLY_ERROR_H_
