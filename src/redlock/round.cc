#include "redlock/round.h"

#include <algorithm>

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
