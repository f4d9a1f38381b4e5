// RedlockBackend::WaitForRelease: woken by the releases published on every instance, and
// by the expiry of enough keys to free a majority.
#include <fmt/format.h>

#include <algorithm>

#include "core/lease_rules.h"
#include "redis/common/replies.h"
#include "redlock/redlock_backend.h"

namespace dlock::redlock {

using std::chrono::milliseconds;

Status RedlockBackend::WaitForRelease(std::string_view name, Steady::time_point deadline,
                                      std::stop_token stop) {
  DLOCK_RETURN_IF_ERROR(ValidateName(name));
  // Subscribe on every instance, then look: a release in between is seen either way.
  auto waiter = std::make_shared<redis::Waiter>();
  std::vector<std::unique_ptr<redis::Subscription>> subs;
  for (auto& c : clients_) subs.push_back(c->Subscribe(Channel(name), waiter));
  const int tolerable = n_ - quorum_;
  auto outcome = [&]() -> Status {
    if (stop.stop_requested()) return CancelledError("wait cancelled");
    std::lock_guard lock(waiter->mu);
    if (waiter->errors > tolerable) return waiter->error;
    return DeadlineExceededError("still held at the deadline");
  };
  auto failed = [&] {
    std::lock_guard lock(waiter->mu);
    return waiter->errors > tolerable;
  };
  if (!waiter->Wait([&] { return waiter->confirmed >= quorum_ || waiter->errors > tolerable; },
                    deadline, stop) ||
      failed()) {
    return outcome();
  }
  // Each release publishes once per instance, so one message may come while most
  // instances still hold the key: look again after every message, or the caller would
  // spend an attempt per instance.
  for (;;) {
    int seen = 0;
    {
      std::lock_guard lock(waiter->mu);
      seen = waiter->messages;
    }
    auto free_at = MajorityFreeAt(name);
    if (!free_at.ok()) return free_at.status();
    if (!*free_at) return OkStatus();
    const auto expires = **free_at;
    bool woke = waiter->Wait([&] { return waiter->messages > seen || waiter->errors > tolerable; },
                             std::min(deadline, expires), stop);
    if (failed() || stop.stop_requested()) return outcome();
    if (!woke && clock_->Now() < expires) return outcome();
  }
}

Result<std::optional<RedlockBackend::Steady::time_point>> RedlockBackend::MajorityFreeAt(
    std::string_view name) {
  // Free when a majority of instances answer without a key: only then can an acquisition
  // win. A paused instance must not hold every waiter up: wait for its answer only
  // briefly.
  auto look_until = Steady::now() + std::min<milliseconds>(DefaultTimeout(), milliseconds(250));
  redis::Replies replies = Round(clients_, inspect_, Keys(std::string(name)), {}, look_until,
                                 [](const redis::Replies&) { return false; });
  const int answered = CountAnswered(replies);
  if (answered < quorum_) {
    return UnavailableError(fmt::format("only {} of {} Redis instances answered ({})", answered, n_,
                                        FirstError(replies)));
  }
  std::vector<std::int64_t> held_ms;  // remaining TTLs where the key still exists
  for (const auto& r : replies) {
    if (!Answered(r) || (*r)->elements.empty()) continue;
    if (auto ttl = redis::ToInt((*r)->elements[0]); ttl > 0) held_ms.push_back(ttl);
  }
  const int missing = quorum_ - (answered - static_cast<int>(held_ms.size()));
  if (missing <= 0) return std::optional<Steady::time_point>();
  // Without a release, a majority is free when the missing-th shortest key expires.
  std::nth_element(held_ms.begin(), held_ms.begin() + (missing - 1), held_ms.end());
  return std::optional<Steady::time_point>(clock_->Now() + milliseconds(held_ms[missing - 1]));
}

}  // namespace dlock::redlock
