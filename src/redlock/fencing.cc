#include "redlock/fencing.h"

#include <fmt/format.h>

namespace dlock::redlock {

Status RaiseFencing(const Clients& clients, const redis::Script& raise,
                    const std::vector<std::string>& keys, const std::string& name,
                    const std::string& owner, const std::vector<std::size_t>& won,
                    FencingToken token, int quorum,
                    std::chrono::steady_clock::time_point deadline) {
  redis::Replies raised = Round(
      clients, raise, keys, {owner, std::to_string(token)}, deadline,
      [&](const redis::Replies& r) { return CountInts(r, {1}) >= quorum; }, &won);
  return RaiseOutcome(raised, name, clients.size(), quorum);
}

Status RaiseOutcome(const redis::Replies& raised, const std::string& name, std::size_t instances,
                    int quorum) {
  int confirmed = CountInts(raised, {1});
  if (confirmed < quorum) {
    return UnavailableError(fmt::format(
        "lock '{}': the fencing round was confirmed by only {} of {} Redis instances ({})", name,
        confirmed, instances, FirstError(raised)));
  }
  return OkStatus();
}

}  // namespace dlock::redlock
