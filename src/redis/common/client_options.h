// client_options.h: the client's options for one server of a redis://, rediss:// or
// redlock:// backend.
//
// Thread-safety: MakeClientOptions may be called from any thread.
#ifndef DLOCK_SRC_REDIS_COMMON_CLIENT_OPTIONS_H_
#define DLOCK_SRC_REDIS_COMMON_CLIENT_OPTIONS_H_

#include "dlock/backends/redis.h"
#include "dlock/status.h"
#include "redis/client/client.h"

namespace dlock::redis {

// Client options for `o`, with its TLS context loaded (when o.tls): kInvalidArgument if
// the CA file, the certificate or its key cannot be loaded, or only one of the two is
// given. insecure=true prints a warning to stderr.
Result<ClientOptions> MakeClientOptions(const RedisOptions& o);

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_COMMON_CLIENT_OPTIONS_H_
