// RedisSentinelOptionsFromUri (dlock/backends/redis_sentinel.h): the sentinels, the master's
// name from the path, and the options of redis:// (redis/common/uri_options.h) for the
// master, with the sentinels' own credentials.
#include <fmt/format.h>

#include "dlock/backends/redis_sentinel.h"
#include "redis/common/uri_options.h"

namespace dlock {

Result<RedisSentinelOptions> RedisSentinelOptionsFromUri(const BackendUri& uri) {
  const bool tls = uri.scheme == "rediss+sentinel";
  if (!tls && uri.scheme != "redis+sentinel") {
    return InvalidArgumentError(fmt::format("{}:// is not redis+sentinel://", uri.scheme));
  }
  if (uri.hosts.empty()) {
    return InvalidArgumentError(
        fmt::format("{}:// needs the sentinels, e.g. {}://127.0.0.1:26379,127.0.0.1:26380/mymaster",
                    uri.scheme, uri.scheme));
  }
  // The path is /MASTER_NAME[/db].
  std::string_view path(uri.path);
  if (path.starts_with('/')) path.remove_prefix(1);
  const auto slash = path.find('/');
  std::string_view name = path.substr(0, slash);
  if (name.empty()) {
    return InvalidArgumentError(fmt::format(
        "{}:// needs the master's name after the sentinels: {}://HOST:PORT,.../NAME[/db]",
        uri.scheme, uri.scheme));
  }
  RedisSentinelOptions o;
  o.master_name = std::string(name);
  o.sentinels = uri.hosts;
  for (auto& s : o.sentinels) {
    if (s.port == 0) s.port = 26379;
  }
  BackendUri master = uri;
  master.path = slash == std::string_view::npos ? "" : std::string(path.substr(slash));
  DLOCK_RETURN_IF_ERROR(
      redis::ApplyUri(master, tls, o.master, {"sentinel_user", "sentinel_password"}));
  if (auto it = uri.query.find("sentinel_user"); it != uri.query.end())
    o.sentinel_user = it->second;
  if (auto it = uri.query.find("sentinel_password"); it != uri.query.end()) {
    o.sentinel_password = it->second;
  }
  return o;
}

}  // namespace dlock
