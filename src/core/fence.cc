#include "dlock/fence.h"

#include <fmt/format.h>

namespace dlock::fence {

Status StaleTokenError(std::string_view resource, FencingToken token, FencingToken highest) {
  return StaleError(
      fmt::format("fencing token {} is stale: resource '{}' has seen token {}; nothing was written",
                  token, resource, highest));
}

Status ValidateFencedWrite(std::string_view resource, FencingToken token,
                           const std::vector<std::string>& write) {
  if (resource.empty()) return InvalidArgumentError("the resource name is empty");
  if (resource.size() > kMaxNameLength) {
    return InvalidArgumentError(fmt::format("the resource name is {} bytes long; the limit is {}",
                                            resource.size(), kMaxNameLength));
  }
  for (unsigned char c : resource) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgumentError("the resource name has a control character");
    }
  }
  if (token == 0) return InvalidArgumentError("fencing token 0: tokens start at 1");
  if (write.empty()) return InvalidArgumentError("nothing to write");
  return OkStatus();
}

}  // namespace dlock::fence
