// RedisClusterOptionsFromUri (dlock/backends/redis_cluster.h): the seeds, and the options of
// redis:// (redis/common/uri_options.h) for every node.
#include <fmt/format.h>

#include "dlock/backends/redis_cluster.h"
#include "redis/common/uri_options.h"

namespace dlock {

Result<RedisClusterOptions> RedisClusterOptionsFromUri(const BackendUri& uri) {
  const bool tls = uri.scheme == "rediss+cluster";
  if (!tls && uri.scheme != "redis+cluster") {
    return InvalidArgumentError(fmt::format("{}:// is not redis+cluster://", uri.scheme));
  }
  if (uri.hosts.empty()) {
    return InvalidArgumentError(
        fmt::format("{}:// needs some of the cluster's nodes, e.g. "
                    "{}://127.0.0.1:7000,127.0.0.1:7001",
                    uri.scheme, uri.scheme));
  }
  RedisClusterOptions o;
  o.seeds = uri.hosts;
  for (auto& s : o.seeds) {
    if (s.port == 0) s.port = 6379;
  }
  DLOCK_RETURN_IF_ERROR(redis::ApplyUri(uri, tls, o.node));
  if (o.node.db != 0) {
    return InvalidArgumentError(fmt::format(
        "{}:// has no database {}: a Redis Cluster has only database 0", uri.scheme, o.node.db));
  }
  return o;
}

}  // namespace dlock
