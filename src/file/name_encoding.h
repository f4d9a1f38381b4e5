// name_encoding.h: lock names to file names that stay inside the lock directory.
//
// Thread-safety: pure functions.
#ifndef DLOCK_SRC_FILE_NAME_ENCODING_H_
#define DLOCK_SRC_FILE_NAME_ENCODING_H_

#include <string>
#include <string_view>

namespace dlock::internal {

// Keeps [A-Za-z0-9_-] and '.' (except a leading one); every other byte becomes %XX, so
// '/' and ".." can never form a path. The result ends in ".lock" and is at most 200
// bytes: a longer encoding keeps its first 150 bytes and appends '~' and a 128-bit hash
// of the whole name (the file also stores the full name, so a collision is detected).
std::string LockFileName(std::string_view name);

// Percent-encoding of arbitrary bytes for one-line storage (keeps [A-Za-z0-9_.-/]), and
// its inverse (false on a malformed escape).
std::string EscapeField(std::string_view raw);
bool UnescapeField(std::string_view escaped, std::string& out);

}  // namespace dlock::internal

#endif  // DLOCK_SRC_FILE_NAME_ENCODING_H_
