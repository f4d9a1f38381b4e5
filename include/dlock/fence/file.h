// fence/file.h: a fenced file. A write replaces the whole file atomically (a temporary
// file in the same directory, renamed over it), and only if its token is at least the
// highest one the file has seen, which is kept beside it in PATH.fence. The check, the
// record and the rename happen under flock(2) on PATH.fence, so writers on one host
// (and on one shared file system with working flock) are serialized.
//
// Readers need no lock: they see the old content or the new, never a mix. A writer
// that does not go through the guard is not refused: fence every writer.
//
// Thread-safety: safe for concurrent use by many threads and processes.
#ifndef DLOCK_FENCE_FILE_H_
#define DLOCK_FENCE_FILE_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>

#include "dlock/export.h"
#include "dlock/fence.h"

namespace dlock::fence {

struct DLOCK_API FileGuardOptions {
  // fsync(2) the new content, the record and the directory, so that a power loss after
  // an applied write neither loses it nor lowers the highest token. Default: on.
  bool fsync = true;
  // How long a write waits for another writer's flock on PATH.fence before giving up
  // with kUnavailable (a writer stopped in the middle). A fenced write holds the flock
  // while its content is produced (ReplaceFile's `produce`).
  std::chrono::milliseconds op_timeout = std::chrono::seconds(10);
};

// A Guard whose resource is a file's path and whose write is one string, the file's new
// content. Apply returns "" when applied. A missing directory or one we may not write
// in is kFailedPrecondition.
DLOCK_API std::unique_ptr<Guard> MakeFileGuard(FileGuardOptions options = {});

// Replaces `path` with what `produce` writes to the file descriptor it is given (a new
// file in path's directory), if `token` >= the highest token `path` has seen: the token
// is then recorded and the new file renamed over `path`. `produce` runs under the flock,
// after the token was checked; if it returns an error, `path` and its record are left
// as they were and that error is returned. Codes as Guard::Apply.
DLOCK_API Status ReplaceFile(const std::filesystem::path& path, FencingToken token,
                             const std::function<Status(int fd)>& produce,
                             const FileGuardOptions& options = {});

// The record's path for `path`: PATH.fence.
DLOCK_API std::filesystem::path FenceRecordPath(const std::filesystem::path& path);

}  // namespace dlock::fence

#endif  // DLOCK_FENCE_FILE_H_
