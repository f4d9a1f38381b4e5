#include "redis/common/keys.h"

#include <fmt/format.h>

namespace dlock::redis {

std::string LockKey(std::string_view prefix, std::string_view name, std::string_view suffix) {
  return fmt::format("{}{{{}}}{}", prefix, name, suffix);
}

}  // namespace dlock::redis
