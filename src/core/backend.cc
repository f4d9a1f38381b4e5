#include "dlock/backend.h"

namespace dlock {

Status Backend::WaitForRelease(std::string_view, std::chrono::steady_clock::time_point,
                               std::stop_token, std::string_view) {
  return UnimplementedError("this backend cannot wait for a release");
}

Result<std::optional<Lease>> Backend::WaitForTurn(const AcquireRequest& request,
                                                  std::chrono::steady_clock::time_point deadline,
                                                  std::stop_token stop) {
  Status woke = WaitForRelease(request.name, deadline, std::move(stop),
                               request.queue ? std::string_view(request.owner_id) : "");
  if (!woke.ok()) return woke;
  return std::optional<Lease>();
}

std::vector<Result<Lease>> Backend::ExtendMany(const std::vector<Lease>& leases) {
  std::vector<Result<Lease>> out;
  out.reserve(leases.size());
  for (const auto& lease : leases) out.push_back(Extend(lease, lease.ttl));
  return out;
}

void Backend::TryAcquireAsync(const AcquireRequest& request, AcquireCallback done) {
  done(TryAcquire(request));
}

void Backend::ReleaseAsync(const Lease& lease, StatusCallback done) { done(Release(lease)); }

Status Backend::LeaveQueue(std::string_view, std::string_view) { return OkStatus(); }

}  // namespace dlock
