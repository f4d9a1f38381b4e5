// zk://[user:password@]host[:port][,host[:port]...][/path][?opt=...] as ZooKeeperOptions.
#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dlock/backends/zookeeper.h"
#include "dlock/duration.h"
#include "zookeeper/recipe.h"

namespace dlock {
namespace {

// OK if the file named by option `key` can be opened for reading.
Status CheckReadable(const std::string& key, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return InvalidArgumentError(
        fmt::format("zk:// {} file '{}' cannot be read: {}", key, path, std::strerror(errno)));
  }
  std::fclose(f);
  return OkStatus();
}

// The TLS options once every query option is read: files only with tls=true, readable,
// and a client certificate with its key.
Status CheckTls(const ZooKeeperOptions& o, bool tls_files_given) {
  if (!o.tls) {
    if (tls_files_given) {
      return InvalidArgumentError("zk:// options cacert, cert and key need tls=true");
    }
    return OkStatus();
  }
  if (o.cert.empty() != o.key.empty()) {
    return InvalidArgumentError("zk:// needs both cert= and key= for a client certificate");
  }
  if (!o.cacert.empty()) DLOCK_RETURN_IF_ERROR(CheckReadable("cacert", o.cacert));
  if (!o.cert.empty()) DLOCK_RETURN_IF_ERROR(CheckReadable("cert", o.cert));
  if (!o.key.empty()) DLOCK_RETURN_IF_ERROR(CheckReadable("key", o.key));
  return OkStatus();
}

}  // namespace

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
  bool tls_files_given = false;
  for (const auto& [key, value] : uri.query) {
    if (key == "connect_timeout" || key == "session_timeout") {
      auto d = ParseDuration(value);
      if (!d.ok()) return d.status();
      if (d->count() <= 0) {
        return InvalidArgumentError(fmt::format("zk:// option '{}' must be positive", key));
      }
      (key == "connect_timeout" ? o.connect_timeout : o.session_timeout) = *d;
    } else if (key == "tls") {
      if (value != "true" && value != "false") {
        return InvalidArgumentError(
            fmt::format("zk:// option 'tls' takes true or false, not '{}'", value));
      }
      o.tls = value == "true";
    } else if (key == "cacert" || key == "cert" || key == "key") {
      if (value.empty()) {
        return InvalidArgumentError(fmt::format("zk:// option '{}' needs a file name", key));
      }
      (key == "cacert" ? o.cacert : key == "cert" ? o.cert : o.key) = value;
      tls_files_given = true;
    } else {
      return InvalidArgumentError(fmt::format(
          "unknown option '{}' for zk://; known: connect_timeout, session_timeout, tls, cacert, "
          "cert, key, drift_factor, drift_ms",
          key));
    }
  }
  DLOCK_RETURN_IF_ERROR(CheckTls(o, tls_files_given));
  return o;
}

}  // namespace dlock
