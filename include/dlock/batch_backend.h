// batch_backend.h: the optional batched renewal of a Backend (backend.h), so that one
// process renewing thousands of locks sends few packets.
//
// Offered by: Redis (one pipelined round trip for the batch) and memory. Locker finds
// it through Backend::batch() and then renews leases that fall due together in one call
// (a Release of one of them waits for the call); elsewhere it renews them one at a time.
//
// Thread-safety: as the Backend that offers it.
#ifndef DLOCK_BATCH_BACKEND_H_
#define DLOCK_BATCH_BACKEND_H_

#include <vector>

#include "dlock/backend.h"
#include "dlock/export.h"
#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock {

class DLOCK_API BatchExtendBackend {
 public:
  virtual ~BatchExtendBackend() = default;

  // Backend::Extend for each of `leases`, each by its own `lease.ttl`, in about the time
  // of one Extend; the results in the same order.
  virtual std::vector<Result<Lease>> ExtendMany(const std::vector<Lease>& leases) = 0;
};

// backend.batch()'s ExtendMany where it has one; else Backend::Extend for each in turn.
DLOCK_API std::vector<Result<Lease>> ExtendMany(Backend& backend, const std::vector<Lease>& leases);

// Backend::Extend for each of `leases` in turn, by its own `lease.ttl`: an ExtendMany for
// a backend with no faster way, whose batches are still worth sending together.
DLOCK_API std::vector<Result<Lease>> ExtendEach(Backend& backend, const std::vector<Lease>& leases);

}  // namespace dlock

#endif  // DLOCK_BATCH_BACKEND_H_
