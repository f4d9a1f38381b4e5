// keys.h: the names of a lock's keys on a Redis server, shared by redis:// and
// redlock://.
//
// Thread-safety: a pure function.
#ifndef DLOCK_SRC_REDIS_COMMON_KEYS_H_
#define DLOCK_SRC_REDIS_COMMON_KEYS_H_

#include <string>
#include <string_view>

namespace dlock::redis {

// PREFIX{NAME}SUFFIX: one hash tag for every key of a lock.
std::string LockKey(std::string_view prefix, std::string_view name, std::string_view suffix = "");

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_COMMON_KEYS_H_
