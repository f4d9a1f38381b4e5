#include "redis/client/reply_error.h"

#include <fmt/format.h>

namespace dlock::redis {

Status ReplyError(const std::string& endpoint, const Reply& r) {
  std::string message = fmt::format("{}: {}", endpoint, r.str);
  if (r.str.starts_with("NOAUTH") || r.str.starts_with("WRONGPASS") ||
      r.str.starts_with("NOPERM") || r.str.starts_with("DLOCK_OVERFLOW")) {
    return FailedPreconditionError(message);
  }
  if (!r.is_error()) return InternalError(fmt::format("{}: unexpected reply", endpoint));
  return UnavailableError(message);
}

}  // namespace dlock::redis
