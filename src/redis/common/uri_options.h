// uri_options.h: the options of a redis://, rediss:// or redlock:// URI as RedisOptions
// (RedisOptionsFromUri, in dlock/backends/redis.h, is ApplyUri for one host).
//
// Thread-safety: a pure function.
#ifndef DLOCK_SRC_REDIS_COMMON_URI_OPTIONS_H_
#define DLOCK_SRC_REDIS_COMMON_URI_OPTIONS_H_

#include <string>
#include <vector>

#include "dlock/backends/redis.h"
#include "dlock/status.h"
#include "dlock/uri.h"

namespace dlock::redis {

// Applies the URI's user, password, database and options to `o`. `tls` turns TLS on and
// allows its options (cacert, cert, key, insecure). `extra_keys` names options the
// caller handles itself (they are skipped here). kInvalidArgument names a bad or unknown
// option, or a wait_timeout not below the timeout.
Status ApplyUri(const BackendUri& uri, bool tls, RedisOptions& o,
                const std::vector<std::string>& extra_keys = {});

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_COMMON_URI_OPTIONS_H_
