#include "redlock/release_retries.h"

#include <algorithm>
#include <utility>

#include "redis/common/replies.h"

namespace dlock::redlock {

std::shared_ptr<bool> ReleaseRetries::Track(const std::string& name, const std::string& owner) {
  auto stop = std::make_shared<bool>(false);
  std::lock_guard lock(mu_);
  if (flags_.size() > 1024) std::erase_if(flags_, [](auto& f) { return f.second.expired(); });
  flags_[name + '\0' + owner] = stop;
  return stop;
}

void ReleaseRetries::Stop(const std::string& name, const std::string& owner) {
  std::lock_guard lock(mu_);
  auto it = flags_.find(name + '\0' + owner);
  if (it == flags_.end()) return;
  if (auto stop = it->second.lock()) *stop = true;  // guarded by mu_
  flags_.erase(it);
}

void ReleaseRetries::ReleaseUntil(redis::Client* client,
                                  std::shared_ptr<const redis::Script> script,
                                  std::vector<std::string> keys, std::vector<std::string> args,
                                  std::chrono::steady_clock::time_point give_up,
                                  std::chrono::milliseconds delay,
                                  std::shared_ptr<ReleaseRetries> retries,
                                  std::shared_ptr<bool> stop) {
  using std::chrono::milliseconds;
  std::lock_guard lock(retries->mu_);
  if (*stop) return;
  const redis::Script& s = *script;
  client->EvalAsync(
      s, keys, args,
      [client, script = std::move(script), keys, args, give_up, delay, retries,
       stop](Result<redis::Reply> r) mutable {
        if (r.ok() && !r->is_error() && redis::ToInt(*r) == 1) return;
        if (std::chrono::steady_clock::now() + delay >= give_up) return;
        client->After(delay, [=]() mutable {
          ReleaseUntil(client, std::move(script), std::move(keys), std::move(args), give_up,
                       std::min<milliseconds>(delay * 2, std::chrono::seconds(2)),
                       std::move(retries), std::move(stop));
        });
      },
      /*send_source=*/true);
}

}  // namespace dlock::redlock
