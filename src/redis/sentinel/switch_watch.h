// switch_watch.h: a thread that listens for `+switch-master` on one sentinel at a time
// (the next one when it goes down), for redis+sentinel://'s backend to follow failovers
// without waiting for a call to fail.
//
// Thread-safety: constructed and destroyed on one thread; `check` runs on the watch's own
// thread.
#ifndef DLOCK_SRC_REDIS_SENTINEL_SWITCH_WATCH_H_
#define DLOCK_SRC_REDIS_SENTINEL_SWITCH_WATCH_H_

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "redis/client/client.h"

namespace dlock::redis {

class SwitchWatch {
 public:
  // Calls `check(i)` (i: the index of the sentinel it listens to) when sentinel i
  // announces a switch of `name`'s master, right after it has subscribed to sentinel i (a
  // switch may have gone unheard before), and every `poll` besides (a message lost with
  // a connection). `sentinels` must outlive the watch.
  SwitchWatch(std::vector<Client*> sentinels, std::string name,
              std::function<void(std::size_t)> check,
              std::chrono::milliseconds poll = std::chrono::seconds(5));
  ~SwitchWatch();  // stops and joins the thread
  SwitchWatch(const SwitchWatch&) = delete;
  SwitchWatch& operator=(const SwitchWatch&) = delete;

 private:
  void Run(std::stop_token stop);
  // Listens on sentinel i until it fails or `stop`; false if it could not subscribe.
  bool Listen(std::size_t i, std::stop_token stop);

  const std::vector<Client*> sentinels_;
  const std::string name_;
  const std::function<void(std::size_t)> check_;
  const std::chrono::milliseconds poll_;
  std::jthread thread_;  // declared last: started last, stopped first
};

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_SENTINEL_SWITCH_WATCH_H_
