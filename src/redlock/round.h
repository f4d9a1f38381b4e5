// round.h: one round over the Redlock instances: a script sent to each at once, its
// replies gathered until enough of them decide, and the counts a decision is made of.
//
// Thread-safety: Round may be called from many threads at once (the clients are
// thread-safe); the counting functions are pure.
#ifndef DLOCK_SRC_REDLOCK_ROUND_H_
#define DLOCK_SRC_REDLOCK_ROUND_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dlock/status.h"
#include "redis/client/client.h"
#include "redis/client/gather.h"

namespace dlock::redlock {

using Clients = std::vector<std::unique_ptr<redis::Client>>;

// Sends `script` with `keys` and `args` to every instance (`only`: to these indices), and
// waits until `enough` holds, every instance answered, or `deadline`. Returns a slot per
// instance, empty where no reply came in time (or none was sent).
redis::Replies Round(const Clients& clients, const redis::Script& script,
                     const std::vector<std::string>& keys, const std::vector<std::string>& args,
                     std::chrono::steady_clock::time_point deadline, redis::Gather::Enough enough,
                     const std::vector<std::size_t>* only = nullptr);

// Round without blocking: `done` gets the replies so far, exactly once, as soon as
// `enough` holds, every instance answered, or `timeout` passed; on an instance's I/O
// thread (the timer's is the first instance sent to). `enough` is called under the
// round's lock, on the I/O threads, never after `done` ran. REQUIRES: `clients` outlive
// the call (Backend::async's contract: the backend lives until `done` has run).
void RoundAsync(const Clients& clients, const redis::Script& script,
                const std::vector<std::string>& keys, const std::vector<std::string>& args,
                std::chrono::milliseconds timeout, redis::Gather::Enough enough,
                std::function<void(redis::Replies)> done,
                const std::vector<std::size_t>* only = nullptr);

// A reply came, and is not an error.
bool Answered(const std::optional<Result<redis::Reply>>& r);

// The answered replies that are integers equal to one of `values`.
int CountInts(const redis::Replies& replies, std::initializer_list<std::int64_t> values);

// The answered replies.
int CountAnswered(const redis::Replies& replies);

// The first failure among the replies, for messages ("no reply in time" if none failed).
std::string FirstError(const redis::Replies& replies);

}  // namespace dlock::redlock

#endif  // DLOCK_SRC_REDLOCK_ROUND_H_
