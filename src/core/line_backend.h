// line_backend.h: the base of the stores whose wait line is served by one wait that
// takes the waiter (file, memory, etcd, ZooKeeper): they implement Wait, and this gives
// them Backend::WaitForRelease (no waiter), QueueingBackend::WaitForTurn (the request's
// owner as the waiter; never a grant: the caller asks again) and Backend::queueing().
//
// Thread-safety: as the derived backend's Wait.
#ifndef DLOCK_SRC_CORE_LINE_BACKEND_H_
#define DLOCK_SRC_CORE_LINE_BACKEND_H_

#include <chrono>
#include <optional>
#include <stop_token>
#include <string_view>

#include "dlock/backend.h"
#include "dlock/queueing_backend.h"

namespace dlock::internal {

class LineBackend : public Backend, public QueueingBackend {
 public:
  Status WaitForRelease(std::string_view name, std::chrono::steady_clock::time_point deadline,
                        std::stop_token stop) final {
    return Wait(name, deadline, std::move(stop), {});
  }

  Result<std::optional<Lease>> WaitForTurn(const AcquireRequest& request,
                                           std::chrono::steady_clock::time_point deadline,
                                           std::stop_token stop) final {
    DLOCK_RETURN_IF_ERROR(Wait(request.name, deadline, std::move(stop),
                               request.queue ? std::string_view(request.owner_id) : ""));
    return std::optional<Lease>();
  }

  QueueingBackend* queueing() final { return this; }

 protected:
  // Until the lock may be free (OK), `deadline` (kDeadlineExceeded) or `stop`
  // (kCancelled); for a queued `waiter` (not empty), until the lock is free and the
  // waiter heads the line, or the line changed.
  virtual Status Wait(std::string_view name, std::chrono::steady_clock::time_point deadline,
                      std::stop_token stop, std::string_view waiter) = 0;
};

}  // namespace dlock::internal

#endif  // DLOCK_SRC_CORE_LINE_BACKEND_H_
