// uri.h: backend URIs, parsed once into parts, with the password kept out of print.
//
//   file:///var/lib/dlock           file://relative/dir      file://localhost/abs/dir
//   redis://[user[:password]@]host[:port][/db][?opt=v&...]   rediss://... (TLS)
//   redis+sentinel://host:port,host:port,.../MASTER_NAME[/db]   rediss+sentinel://... (TLS)
//   redis+cluster://host:port,host:port,...   rediss+cluster://... (TLS)
//   redlock://host:port,host:port,...   etcd://host:port[,...]   zk://host:port[,...][/path]
//
// Thread-safety: pure functions and plain values.
#ifndef DLOCK_URI_H_
#define DLOCK_URI_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/export.h"
#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock {

struct DLOCK_API HostPort {
  std::string host;        // without IPv6 brackets
  std::uint16_t port = 0;  // 0: not given
};

struct DLOCK_API BackendUri {
  std::string scheme;                        // lower case
  std::string user;                          // percent-decoded
  std::optional<std::string> password;       // percent-decoded; secret
  std::vector<HostPort> hosts;               // empty for file://
  std::string path;                          // percent-decoded; for file:// the directory
  std::map<std::string, std::string> query;  // percent-decoded, less drift_factor, drift_ms
  // ?drift_factor=F&drift_ms=N, which every backend takes (dlock/lease.h); validated.
  DriftMargin drift;

  // The URI as given, with any password replaced by "***". Safe to log and to pass to a
  // child process.
  std::string Redacted() const;
};

// Parses `text`. kInvalidArgument with a one-line message naming the wrong part (scheme,
// host, port, path, option) for anything malformed. Does not check that the scheme is
// a known backend (OpenBackend does) nor which query options it takes, except the two
// that every backend takes: drift_factor and drift_ms, moved from `query` to `drift`.
DLOCK_API Result<BackendUri> ParseBackendUri(std::string_view text);

}  // namespace dlock

#endif  // DLOCK_URI_H_
