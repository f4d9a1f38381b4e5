// release_retries.h: the background releases of a failed Redlock attempt. An instance that
// did not answer the attempt (paused, slow, unreachable) may still run its acquire later,
// so the release is sent to it again at growing intervals until the lock's TTL has passed.
// They carry the attempt's owner id, which the caller's next attempt reuses: they must stop
// before that attempt starts, or a late one deletes the key it won (found by the fault
// suite's late replies).
//
// Thread-safety: every method may be called from any thread.
#ifndef DLOCK_SRC_REDLOCK_RELEASE_RETRIES_H_
#define DLOCK_SRC_REDLOCK_RELEASE_RETRIES_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "redis/client/client.h"

namespace dlock::redlock {

class ReleaseRetries {
 public:
  // A new flag for the retries of `owner`'s release of `name`; Stop sets it.
  std::shared_ptr<bool> Track(const std::string& name, const std::string& owner);
  // Stops the retries of `owner`'s release of `name`, if any. A retry posted before this
  // call still reaches its connection ahead of the commands sent after it (each is posted
  // under the same mutex; same shard, EVAL: in order).
  void Stop(const std::string& name, const std::string& owner);

  // Sends `script` (the release) to `client` unless `stop` is set, and again after
  // `delay`, doubled each time up to 2 s, until the instance answers 1 (released) or the
  // next send would come after `give_up`. Captures no caller state: it runs on the
  // client's I/O thread, and ends when the client stops.
  static void ReleaseUntil(redis::Client* client, std::shared_ptr<const redis::Script> script,
                           std::vector<std::string> keys, std::vector<std::string> args,
                           std::chrono::steady_clock::time_point give_up,
                           std::chrono::milliseconds delay, std::shared_ptr<ReleaseRetries> retries,
                           std::shared_ptr<bool> stop);

 private:
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<bool>> flags_;  // guarded by mu_: name\0owner
};

}  // namespace dlock::redlock

#endif  // DLOCK_SRC_REDLOCK_RELEASE_RETRIES_H_
