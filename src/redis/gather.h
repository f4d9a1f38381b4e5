// gather.h: collects the replies of calls sent at once (to every Redlock instance, or
// one pipelined batch to one server), for a caller that blocks until enough answered.
//
// Thread-safety: the slots may run on any thread (I/O threads); Wait on one thread.
#ifndef DLOCK_SRC_REDIS_GATHER_H_
#define DLOCK_SRC_REDIS_GATHER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "redis/client.h"

namespace dlock::redis {

using Replies = std::vector<std::optional<Result<Reply>>>;

// Collects the replies of `n` calls, one slot each. Late replies after Wait() returned
// are dropped: the state is shared with the callbacks.
class Gather {
 public:
  // `wake_on_each`: the waiter looks at every reply (for an `enough` that may hold
  // early); false: only once all have answered, sparing a wake-up per reply.
  explicit Gather(std::size_t n, bool wake_on_each = true)
      : state_(std::make_shared<State>(n)), wake_on_each_(wake_on_each) {}

  ReplyCallback Slot(std::size_t i) {
    return [state = state_, i, each = wake_on_each_](Result<Reply> r) {
      std::lock_guard lock(state->mu);
      state->replies[i] = std::move(r);
      state->answered++;
      if (each || state->answered == state->replies.size()) state->cv.notify_all();
    };
  }

  // Waits until enough(replies) holds, every call answered, or `deadline`; returns the
  // replies so far.
  Replies Wait(std::chrono::steady_clock::time_point deadline,
               const std::function<bool(const Replies&)>& enough) {
    std::unique_lock lock(state_->mu);
    state_->cv.wait_until(lock, deadline, [&] {
      return state_->answered == state_->replies.size() || enough(state_->replies);
    });
    return state_->replies;
  }

 private:
  struct State {
    explicit State(std::size_t n) : replies(n) {}
    std::mutex mu;
    std::condition_variable cv;
    Replies replies;
    std::size_t answered = 0;
  };
  std::shared_ptr<State> state_;
  const bool wake_on_each_;
};

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_GATHER_H_
