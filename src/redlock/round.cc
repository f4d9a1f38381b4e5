#include "redlock/round.h"

#include <algorithm>
#include <mutex>

#include "redis/common/replies.h"

namespace dlock::redlock {

redis::Replies Round(const Clients& clients, const redis::Script& script,
                     const std::vector<std::string>& keys, const std::vector<std::string>& args,
                     std::chrono::steady_clock::time_point deadline, redis::Gather::Enough enough,
                     const std::vector<std::size_t>* only) {
  redis::Gather gather(clients.size(), std::move(enough));
  auto send = [&](std::size_t i) { clients[i]->EvalAsync(script, keys, args, gather.Slot(i)); };
  if (only != nullptr) {
    for (std::size_t i : *only) send(i);
  } else {
    for (std::size_t i = 0; i < clients.size(); ++i) send(i);
  }
  return gather.Wait(deadline);
}

namespace {

// The state of one RoundAsync, shared by its reply callbacks and its timer.
struct AsyncRoundState {
  AsyncRoundState(std::size_t n, redis::Gather::Enough e, std::function<void(redis::Replies)> d)
      : enough(std::move(e)), done(std::move(d)), replies(n) {}

  // Under mu: whether the round is decided now; if so, takes `done` to run, once.
  std::function<void(redis::Replies)> TakeDoneIfDecided(bool timed_out) {
    if (!done) return nullptr;
    if (!timed_out && answered < expected && !(enough && enough(replies))) return nullptr;
    enough = nullptr;
    return std::move(done);
  }

  std::mutex mu;
  redis::Gather::Enough enough;              // guarded by mu; null once decided
  std::function<void(redis::Replies)> done;  // guarded by mu; null once run
  redis::Replies replies;                    // guarded by mu
  std::size_t answered = 0;                  // guarded by mu
  std::size_t expected = 0;                  // set before the first call is sent
};

// Runs `done`, if taken, with a copy of the replies (outside the lock).
void Finish(const std::shared_ptr<AsyncRoundState>& state, bool timed_out) {
  std::function<void(redis::Replies)> done;
  redis::Replies replies;
  {
    std::lock_guard lock(state->mu);
    done = state->TakeDoneIfDecided(timed_out);
    if (done) replies = state->replies;
  }
  if (done) done(std::move(replies));
}

}  // namespace

void RoundAsync(const Clients& clients, const redis::Script& script,
                const std::vector<std::string>& keys, const std::vector<std::string>& args,
                std::chrono::milliseconds timeout, redis::Gather::Enough enough,
                std::function<void(redis::Replies)> done, const std::vector<std::size_t>* only) {
  std::vector<std::size_t> targets;
  if (only != nullptr) {
    targets = *only;
  } else {
    for (std::size_t i = 0; i < clients.size(); ++i) targets.push_back(i);
  }
  auto state =
      std::make_shared<AsyncRoundState>(clients.size(), std::move(enough), std::move(done));
  state->expected = targets.size();
  if (targets.empty()) return Finish(state, /*timed_out=*/true);
  clients[targets.front()]->After(timeout, [state] { Finish(state, /*timed_out=*/true); });
  for (std::size_t i : targets) {
    clients[i]->EvalAsync(script, keys, args, [state, i](Result<redis::Reply> r) {
      {
        std::lock_guard lock(state->mu);
        state->replies[i] = std::move(r);
        state->answered++;
      }
      Finish(state, /*timed_out=*/false);
    });
  }
}

bool Answered(const std::optional<Result<redis::Reply>>& r) {
  return r && r->ok() && !(*r)->is_error();
}

int CountInts(const redis::Replies& replies, std::initializer_list<std::int64_t> values) {
  int n = 0;
  for (const auto& r : replies) {
    if (!Answered(r)) continue;
    std::int64_t v = redis::ToInt(**r);
    n += std::find(values.begin(), values.end(), v) != values.end();
  }
  return n;
}

int CountAnswered(const redis::Replies& replies) {
  return static_cast<int>(std::count_if(replies.begin(), replies.end(), Answered));
}

std::string FirstError(const redis::Replies& replies) {
  for (const auto& r : replies) {
    if (r && !r->ok()) return r->status().message();
    if (r && r->ok() && (*r)->is_error()) return (*r)->str;
  }
  return "no reply in time";
}

}  // namespace dlock::redlock
