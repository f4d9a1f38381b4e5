// backends/memory.h: locks in this process's memory. For tests of code that uses dlock,
// and for the Locker's own unit tests: nothing is shared with other processes.
//
// Semantics as the file backend (docs/semantics.md), within one process; fencing tokens
// start at 1 per lock name and per backend object. native_wait: woken by Release.
#ifndef DLOCK_BACKENDS_MEMORY_H_
#define DLOCK_BACKENDS_MEMORY_H_

#include <memory>

#include "dlock/backend.h"
#include "dlock/clock.h"
#include "dlock/export.h"

namespace dlock {

struct DLOCK_API MemoryOptions {
  std::shared_ptr<Clock> clock;  // null: SystemClock(); TTLs expire on this clock
};

DLOCK_API std::shared_ptr<Backend> MakeMemoryBackend(MemoryOptions options = {});

}  // namespace dlock

#endif  // DLOCK_BACKENDS_MEMORY_H_
