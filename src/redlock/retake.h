// retake.h: the re-take of an extension (RedlockBackend::Extend). Instances that lost the
// key of a lock still held on a majority (say, restarted) take it again (lua/retake.lua),
// so that the majority does not erode; a lock gone from a majority is not taken back (a
// force release). The re-take refuses an instance whose counter passed the lease's token
// (a grant there since ours).
//
// Thread-safety: every method may be called from any thread; the callbacks Watch makes
// run on the clients' I/O threads and may outlive the Retake and its caller.
#ifndef DLOCK_SRC_REDLOCK_RETAKE_H_
#define DLOCK_SRC_REDLOCK_RETAKE_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dlock/lease.h"
#include "redis/client/client.h"
#include "redlock/round.h"

namespace dlock::redlock {

class Retake {
 public:
  // For `lease`, extended by `ttl`, on `n` instances; `holder` is written to the
  // instances taken.
  Retake(std::shared_ptr<const redis::Script> script, std::vector<std::string> keys,
         const Lease& lease, std::chrono::milliseconds ttl, const HolderInfo& holder,
         std::size_t n);

  // Wraps `slot`, the extend reply's of instance `i`: notes whether the instance answered
  // -1 (nobody holds the lock there), and re-takes that instance itself if the majority
  // was confirmed before its reply came (MajorityConfirmed). Captures no caller state.
  redis::ReplyCallback Watch(std::size_t i, redis::Client* client, redis::ReplyCallback slot) const;

  // Re-takes the instances that answered -1 in `replies` now, and waits until `enough`
  // holds for the re-take's replies, or `deadline`. Returns how many were taken.
  int TakeAbsent(const Clients& clients, const redis::Replies& replies,
                 const redis::Gather::Enough& enough,
                 std::chrono::steady_clock::time_point deadline) const;

  // A majority holds the lease: re-takes, without waiting, the instances found without
  // the key so far, and (through Watch) those whose reply comes later.
  void MajorityConfirmed(const Clients& clients) const;

 private:
  // Exactly one of the extend reply's callback and MajorityConfirmed sends an instance's
  // re-take, under mu.
  struct State {
    std::mutex mu;
    bool majority = false;     // guarded by mu
    std::vector<bool> absent;  // guarded by mu: answered -1
  };
  // Fire and forget, by EVAL (never re-sent after a NOSCRIPT).
  static void Send(redis::Client* client, const redis::Script& script,
                   const std::vector<std::string>& keys, const std::vector<std::string>& args);

  const std::shared_ptr<State> state_;
  const std::shared_ptr<const redis::Script> script_;  // shared with the callbacks
  const std::shared_ptr<const std::vector<std::string>> keys_, args_;
};

}  // namespace dlock::redlock

#endif  // DLOCK_SRC_REDLOCK_RETAKE_H_
