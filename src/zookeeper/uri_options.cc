// zk://[user:password@]host[:port][,host[:port]...][/path][?opt=...] as ZooKeeperOptions.
#include <fmt/format.h>

#include "dlock/backends/zookeeper.h"
#include "dlock/duration.h"
#include "zookeeper/recipe.h"

namespace dlock {

Result<ZooKeeperOptions> ZooKeeperOptionsFromUri(const BackendUri& uri) {
  ZooKeeperOptions o;
  if (uri.hosts.empty()) return InvalidArgumentError("zk:// needs at least one host");
  o.hosts.clear();
  for (const auto& hp : uri.hosts) {
    if (!o.hosts.empty()) o.hosts += ',';
    bool v6 = hp.host.find(':') != std::string::npos;
    o.hosts += fmt::format("{}{}{}:{}", v6 ? "[" : "", hp.host, v6 ? "]" : "",
                           hp.port == 0 ? 2181 : hp.port);
  }
  o.root = uri.path.empty() ? "/" : uri.path;
  if (auto root = zk::LockPath(o.root, "x"); !root.ok()) {
    return InvalidArgumentError(fmt::format("zk:// path '{}' is not a usable ZooKeeper path: {}",
                                            uri.path, root.status().message()));
  }
  if (uri.password && uri.user.empty()) {
    return InvalidArgumentError("zk:// digest auth needs a user name: zk://user:password@host");
  }
  if (!uri.user.empty() && !uri.password) {
    return InvalidArgumentError("zk:// digest auth needs a password: zk://user:password@host");
  }
  o.user = uri.user;
  o.password = uri.password;
  o.drift = uri.drift;
  for (const auto& [key, value] : uri.query) {
    if (key == "connect_timeout" || key == "session_timeout") {
      auto d = ParseDuration(value);
      if (!d.ok()) return d.status();
      if (d->count() <= 0) {
        return InvalidArgumentError(fmt::format("zk:// option '{}' must be positive", key));
      }
      (key == "connect_timeout" ? o.connect_timeout : o.session_timeout) = *d;
    } else {
      return InvalidArgumentError(fmt::format(
          "unknown option '{}' for zk://; known: connect_timeout, session_timeout, drift_factor, "
          "drift_ms",
          key));
    }
  }
  return o;
}

}  // namespace dlock
