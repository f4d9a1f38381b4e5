// backends/file.h: the embedded default. Processes (and threads) on one host share locks
// through one small file per lock name in a directory: `file:///path/to/dir`.
//
// Each operation takes flock(2) on the lock's file, reads the record, changes it and
// writes it back; expiry is on CLOCK_MONOTONIC, shared by all processes of the host, and
// a record from before a reboot counts as expired. The fencing counter lives in the file
// and so survives restarts of the processes. Waiters are woken by inotify.
// Guarantees and assumptions: docs/semantics.md, "file".
//
// Thread-safety: safe for concurrent use by many threads and processes.
#ifndef DLOCK_BACKENDS_FILE_H_
#define DLOCK_BACKENDS_FILE_H_

#include <chrono>
#include <filesystem>
#include <memory>

#include "dlock/backend.h"
#include "dlock/clock.h"
#include "dlock/export.h"
#include "dlock/status.h"
#include "dlock/uri.h"

namespace dlock {

struct DLOCK_API FileOptions {
  // The lock directory; created (mode 0700) if missing, with its parents.
  std::filesystem::path dir;
  // fdatasync(2) each change, so the fencing counter also survives a power loss.
  bool fsync = false;
  // How long one operation waits for another process's flock on the same file before
  // giving up with kUnavailable (a process stopped in the middle of an operation).
  std::chrono::milliseconds op_timeout = std::chrono::seconds(2);
  // null: SystemClock(). A ManualClock only makes sense within one process.
  std::shared_ptr<Clock> clock;
  // Left out of every lease's validity (dlock/lease.h); ?drift_factor=&drift_ms=.
  DriftMargin drift;
};

// kFailedPrecondition if the directory cannot be created or used (permissions, not a
// directory), kInvalidArgument if options.dir is empty.
DLOCK_API Result<std::shared_ptr<Backend>> MakeFileBackend(const FileOptions& options);

// From file:///path/to/dir[?fsync=true&timeout=2s] (a parsed URI of scheme "file"):
// kInvalidArgument naming an unknown option or a bad value.
DLOCK_API Result<FileOptions> FileOptionsFromUri(const BackendUri& uri);

// The default lock directory of this user: $XDG_RUNTIME_DIR/dlock when XDG_RUNTIME_DIR is
// set, else /tmp/dlock-<uid>. Does not create it.
DLOCK_API std::filesystem::path DefaultFileDir();

}  // namespace dlock

#endif  // DLOCK_BACKENDS_FILE_H_
