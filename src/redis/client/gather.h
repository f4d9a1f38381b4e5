// gather.h: collects the replies of calls sent at once (to every Redlock instance, or
// one pipelined batch to one server), for a caller that blocks until enough answered.
//
// Thread-safety: the slots may run on any thread (I/O threads); Wait on one thread.
#ifndef DLOCK_SRC_REDIS_CLIENT_GATHER_H_
#define DLOCK_SRC_REDIS_CLIENT_GATHER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "redis/client/client.h"

namespace dlock::redis {

using Replies = std::vector<std::optional<Result<Reply>>>;

// Collects the replies of `n` calls, one slot each, for a caller that waits until
// `enough` of them answered. The slot that completes `enough` (or the last reply) wakes
// the caller: `enough` is checked on the replying thread, under the lock, so the
// replies before it do not each wake the caller to look. Late replies after Wait()
// returned are dropped: the state is shared with the callbacks, and `enough` (which may
// refer to the caller's locals) is not called again.
class Gather {
 public:
  using Enough = std::function<bool(const Replies&)>;

  // `enough`: null waits for every reply.
  explicit Gather(std::size_t n, Enough enough = nullptr)
      : state_(std::make_shared<State>(n, std::move(enough))) {}

  ReplyCallback Slot(std::size_t i) {
    return [state = state_, i](Result<Reply> r) {
      std::lock_guard lock(state->mu);
      state->replies[i] = std::move(r);
      state->answered++;
      if (state->Done()) state->cv.notify_all();
    };
  }

  // Waits until `enough` holds, every call answered, or `deadline`; returns the replies
  // so far.
  Replies Wait(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(state_->mu);
    state_->cv.wait_until(lock, deadline, [&] { return state_->Done(); });
    state_->enough = nullptr;  // the caller's locals it may use end with this call
    return state_->replies;
  }

 private:
  struct State {
    State(std::size_t n, Enough e) : enough(std::move(e)), replies(n) {}
    bool Done() const { return answered == replies.size() || (enough && enough(replies)); }
    std::mutex mu;
    std::condition_variable cv;
    Enough enough;  // guarded by mu; null once Wait returned
    Replies replies;
    std::size_t answered = 0;
  };
  std::shared_ptr<State> state_;
};

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_CLIENT_GATHER_H_
