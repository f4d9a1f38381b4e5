#include "redis/sentinel/switch_watch.h"

#include <condition_variable>
#include <memory>
#include <mutex>

namespace dlock::redis {

using Steady = std::chrono::steady_clock;

SwitchWatch::SwitchWatch(std::vector<Client*> sentinels, std::string name,
                         std::function<void(std::size_t)> check, std::chrono::milliseconds poll)
    : sentinels_(std::move(sentinels)),
      name_(std::move(name)),
      check_(std::move(check)),
      poll_(poll),
      thread_([this](std::stop_token stop) { Run(std::move(stop)); }) {}

SwitchWatch::~SwitchWatch() {
  thread_.request_stop();
  thread_.join();
}

void SwitchWatch::Run(std::stop_token stop) {
  std::size_t i = 0;
  while (!stop.stop_requested()) {
    bool listened = false;
    for (std::size_t k = 0; k < sentinels_.size() && !stop.stop_requested(); ++k) {
      listened = Listen((i + k) % sentinels_.size(), stop) || listened;
      if (listened) {
        i = (i + k) % sentinels_.size();
        break;
      }
    }
    // Every sentinel down, or the one listened to just failed: a pause before the next
    // round, so that a dead set is not asked in a loop.
    std::mutex mu;
    std::unique_lock lock(mu);
    std::condition_variable_any pause;
    pause.wait_for(lock, stop, std::chrono::milliseconds(listened ? 50 : 500),
                   [] { return false; });
    if (!listened) i = (i + 1) % sentinels_.size();
  }
}

bool SwitchWatch::Listen(std::size_t i, std::stop_token stop) {
  auto waiter = std::make_shared<Waiter>();
  auto sub = sentinels_[i]->Subscribe("+switch-master", waiter);
  if (!sub->WaitConfirmed(Steady::now() + std::chrono::seconds(2), stop)) return false;
  check_(i);
  int seen = 0;
  while (!stop.stop_requested()) {
    std::string payload;
    const bool woken = waiter->Wait(
        [&] {
          if (waiter->messages > seen || waiter->errors > 0) {
            seen = waiter->messages;
            payload = waiter->last;
            return true;
          }
          return false;
        },
        Steady::now() + poll_, stop);
    if (stop.stop_requested() || !sub->error().ok()) return true;
    // "+switch-master NAME OLD_IP OLD_PORT NEW_IP NEW_PORT"; on a timeout, a poll.
    if (!woken || payload.starts_with(name_ + " ")) check_(i);
  }
  return true;
}

}  // namespace dlock::redis
