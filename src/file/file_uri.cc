#include <fmt/format.h>

#include "dlock/backends/file.h"
#include "dlock/duration.h"

namespace dlock {
namespace {

Result<bool> ParseBool(const std::string& key, const std::string& value) {
  if (value == "true" || value == "1" || value == "yes") return true;
  if (value == "false" || value == "0" || value == "no") return false;
  return InvalidArgumentError(fmt::format("option '{}' takes true or false, not '{}'", key, value));
}

}  // namespace

Result<FileOptions> FileOptionsFromUri(const BackendUri& uri) {
  FileOptions options;
  options.dir = uri.path;
  options.drift = uri.drift;
  for (const auto& [key, value] : uri.query) {
    if (key == "fsync") {
      auto on = ParseBool(key, value);
      if (!on.ok()) return on.status();
      options.fsync = *on;
    } else if (key == "timeout") {
      auto d = ParseDuration(value);
      if (!d.ok()) return d.status();
      options.op_timeout = *d;
    } else {
      return InvalidArgumentError(fmt::format(
          "unknown option '{}' for file://; known: fsync, timeout, drift_factor, drift_ms", key));
    }
  }
  return options;
}

}  // namespace dlock
