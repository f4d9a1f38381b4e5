#include "dlock/backend.h"

#include "dlock/async_backend.h"
#include "dlock/batch_backend.h"

namespace dlock {

void TryAcquireAsync(Backend& backend, const AcquireRequest& request, AcquireCallback done) {
  if (AsyncBackend* async = backend.async())
    return async->TryAcquireAsync(request, std::move(done));
  done(backend.TryAcquire(request));
}

void ReleaseAsync(Backend& backend, const Lease& lease, StatusCallback done) {
  if (AsyncBackend* async = backend.async()) return async->ReleaseAsync(lease, std::move(done));
  done(backend.Release(lease));
}

std::vector<Result<Lease>> ExtendMany(Backend& backend, const std::vector<Lease>& leases) {
  if (BatchExtendBackend* batch = backend.batch()) return batch->ExtendMany(leases);
  return ExtendEach(backend, leases);
}

std::vector<Result<Lease>> ExtendEach(Backend& backend, const std::vector<Lease>& leases) {
  std::vector<Result<Lease>> out;
  out.reserve(leases.size());
  for (const auto& lease : leases) out.push_back(backend.Extend(lease, lease.ttl));
  return out;
}

}  // namespace dlock
