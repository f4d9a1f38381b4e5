#include "redis/common/uri_options.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string_view>

#include "dlock/duration.h"

namespace dlock {
namespace redis {
namespace {

Result<bool> ParseFlag(const std::string& key, const std::string& value) {
  if (value == "true" || value == "1" || value.empty()) return true;
  if (value == "false" || value == "0") return false;
  return InvalidArgumentError(fmt::format("option '{}' takes true or false, not '{}'", key, value));
}

}  // namespace

Status ApplyUri(const BackendUri& uri, bool tls, RedisOptions& o,
                const std::vector<std::string>& extra_keys) {
  o.tls = tls;
  o.drift = uri.drift;
  o.user = uri.user;
  o.password = uri.password;
  if (!uri.path.empty() && uri.path != "/") {
    std::string_view db(uri.path);
    db.remove_prefix(1);
    auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), o.db);
    if (ec != std::errc() || end != db.data() + db.size() || o.db < 0) {
      return InvalidArgumentError(fmt::format("bad database '{}': use /0, /1, ...", db));
    }
  }
  for (const auto& [key, value] : uri.query) {
    if (std::find(extra_keys.begin(), extra_keys.end(), key) != extra_keys.end()) {
      continue;
    } else if (key == "cacert" && o.tls) {
      o.cacert = value;
    } else if (key == "cert" && o.tls) {
      o.cert = value;
    } else if (key == "key" && o.tls) {
      o.key = value;
    } else if (key == "insecure" && o.tls) {
      auto flag = ParseFlag(key, value);
      if (!flag.ok()) return flag.status();
      o.insecure = *flag;
    } else if (key == "prefix") {
      o.prefix = value;
    } else if (key == "timeout" || key == "connect_timeout") {
      auto d = ParseDuration(value);
      if (!d.ok()) return d.status();
      if (d->count() <= 0) return InvalidArgumentError(fmt::format("{} must be positive", key));
      (key == "timeout" ? o.command_timeout : o.connect_timeout) = *d;
    } else if (key == "wait_replicas") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), o.wait_replicas);
      if (ec != std::errc() || end != value.data() + value.size() || o.wait_replicas < 0 ||
          o.wait_replicas > 16) {
        return InvalidArgumentError("wait_replicas must be a number from 0 to 16");
      }
    } else if (key == "wait_timeout") {
      auto d = ParseDuration(value);
      if (!d.ok()) return d.status();
      if (d->count() <= 0) return InvalidArgumentError("wait_timeout must be positive");
      o.wait_timeout = *d;
    } else if (key == "pool") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), o.pool_size);
      if (ec != std::errc() || end != value.data() + value.size() || o.pool_size < 1 ||
          o.pool_size > 64) {
        return InvalidArgumentError("pool must be a number from 1 to 64");
      }
    } else {
      std::string extra;
      for (const auto& k : extra_keys) extra += ", " + k;
      return InvalidArgumentError(
          fmt::format("unknown option '{}' for {}://; known: {}prefix, timeout, connect_timeout, "
                      "pool, wait_replicas, wait_timeout, drift_factor, drift_ms{}",
                      key, uri.scheme, o.tls ? "cacert, cert, key, insecure, " : "", extra));
    }
  }
  if (o.wait_replicas > 0 && o.wait_timeout >= o.command_timeout) {
    return InvalidArgumentError(
        fmt::format("wait_timeout ({}) must be below timeout ({}), which bounds every reply",
                    FormatDuration(o.wait_timeout), FormatDuration(o.command_timeout)));
  }
  return OkStatus();
}

}  // namespace redis
}  // namespace dlock
