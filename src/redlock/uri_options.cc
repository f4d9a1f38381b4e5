// RedlockOptionsFromUri: redlock://'s own options, then redis://'s for every host.
#include "redis/common/uri_options.h"

#include "dlock/backends/redlock.h"
#include "dlock/duration.h"

namespace dlock {

Result<RedlockOptions> RedlockOptionsFromUri(const BackendUri& uri) {
  RedlockOptions out;
  bool tls = false;
  if (auto it = uri.query.find("tls"); it != uri.query.end()) {
    if (it->second != "true" && it->second != "false" && !it->second.empty()) {
      return InvalidArgumentError("option 'tls' takes true or false");
    }
    tls = it->second != "false";
  }
  if (auto it = uri.query.find("instance_timeout"); it != uri.query.end()) {
    auto d = ParseDuration(it->second);
    if (!d.ok()) return d.status();
    if (d->count() <= 0) return InvalidArgumentError("instance_timeout must be positive");
    out.instance_timeout = *d;
  }
  if (auto it = uri.query.find("fencing"); it != uri.query.end()) {
    if (it->second != "strict" && it->second != "off") {
      return InvalidArgumentError("option 'fencing' takes strict or off");
    }
    out.strict_fencing = it->second == "strict";
  }
  for (const auto& hp : uri.hosts) {
    RedisOptions o;
    o.host = hp.host;
    if (hp.port != 0) o.port = hp.port;
    DLOCK_RETURN_IF_ERROR(redis::ApplyUri(uri, tls, o, {"tls", "instance_timeout", "fencing"}));
    if (o.wait_replicas != 0) {
      return InvalidArgumentError(
          "redlock:// takes no wait_replicas: its instances are independent servers");
    }
    out.instances.push_back(std::move(o));
  }
  return out;
}

}  // namespace dlock
