// RedisOptionsFromUri (dlock/backends/redis.h): one host, and the options that
// redis/common/uri_options.h reads for redis://, rediss:// and each host of redlock://.
#include <fmt/format.h>

#include "dlock/backends/redis.h"
#include "redis/common/uri_options.h"

namespace dlock {

Result<RedisOptions> RedisOptionsFromUri(const BackendUri& uri) {
  if (uri.hosts.size() != 1) {
    return InvalidArgumentError(fmt::format(
        "{}:// takes one host; for several independent servers use redlock://", uri.scheme));
  }
  RedisOptions o;
  o.host = uri.hosts[0].host;
  if (uri.hosts[0].port != 0) o.port = uri.hosts[0].port;
  DLOCK_RETURN_IF_ERROR(redis::ApplyUri(uri, uri.scheme == "rediss", o));
  return o;
}

}  // namespace dlock
