// client.h: a thread-safe Redis client for dlock's backends: a few command connections
// (commands from many threads are multiplexed and pipelined over them), Lua scripts run
// by EVALSHA with a fallback to EVAL, and one shared subscriber connection that wakes
// waiters on a channel. One Asio I/O thread per client. Blocking calls on plain TCP
// skip it while few are in flight: the calling thread writes and reads itself.
//
// Thread-safety: all public methods are safe to call from any thread, except from a
// callback running on the I/O thread (Call would deadlock there; use CallAsync).
#ifndef DLOCK_SRC_REDIS_CLIENT_CLIENT_H_
#define DLOCK_SRC_REDIS_CLIENT_CLIENT_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "redis/client/blocking_connection.h"
#include "redis/client/connection.h"

namespace dlock::redis {

struct ClientOptions {
  ConnectionOptions connection;
  int pool_size = 2;  // command connections on the I/O thread, and as many lent to callers
};

// A Lua script and its SHA1, for EVALSHA. Its source is `parts` joined in order: a script
// after the preludes whose functions it uses (each part one embedded .lua file). Scripts
// are joined here and nowhere else, and sha1 is the SHA1 of the joined text, which is the
// text EVAL sends.
struct Script {
  explicit Script(std::initializer_list<std::string_view> parts);
  // Shared with calls in flight, which send it only if the server lost its script cache.
  std::shared_ptr<const std::string> source;
  std::string sha1;
};

// What the I/O thread tells a waiter about its channel(s). One Waiter may be shared by
// subscriptions on several clients (Redlock waits on every instance at once).
struct Waiter {
  std::mutex mu;
  std::condition_variable_any cv;
  int confirmed = 0;  // guarded by mu: subscriptions the servers confirmed
  int messages = 0;   // guarded by mu: messages received
  std::string last;   // guarded by mu: the last message's payload
  int errors = 0;     // guarded by mu: subscriptions whose connection failed
  Status error;       // guarded by mu: the last failure

  void Confirm();
  void Message(const std::string& payload);
  void Fail(const Status& status);
  // Waits until pred() (called with mu held) is true; false at `deadline` or on `stop`.
  bool Wait(const std::function<bool()>& pred, std::chrono::steady_clock::time_point deadline,
            std::stop_token stop);
};

class Client;

// One waiter's interest in a channel (see Client::Subscribe); unsubscribes when destroyed.
class Subscription {
 public:
  Subscription(Client* client, std::string channel, std::shared_ptr<Waiter> waiter);
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Waits until the server confirmed the subscription. false at `deadline`, on `stop`,
  // or if the subscriber connection failed (then error() says why).
  bool WaitConfirmed(std::chrono::steady_clock::time_point deadline, std::stop_token stop) {
    return waiter_->Wait([w = waiter_.get()] { return w->confirmed > 0 || w->errors > 0; },
                         deadline, stop) &&
           error().ok();
  }
  // Waits for a message on the channel. Same false cases.
  bool WaitMessage(std::chrono::steady_clock::time_point deadline, std::stop_token stop) {
    return waiter_->Wait([w = waiter_.get()] { return w->messages > 0 || w->errors > 0; }, deadline,
                         stop) &&
           error().ok();
  }
  Status error() const;
  // The payload of the last message on the channel ("" if none yet).
  std::string last_message() const;

 private:
  Client* const client_;
  const std::string channel_;
  const std::shared_ptr<Waiter> waiter_;
};

class Client {
 public:
  explicit Client(ClientOptions options);
  ~Client();  // stops the I/O thread; pending calls fail
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one command on the least busy connection; `done` runs on the I/O thread.
  // `shard`: commands with the same shard go over the same connection, so the server
  // runs them in the order sent (scripts on one lock use the lock key's hash); without
  // one, the least busy connection.
  void CallAsync(std::vector<std::string> args, ReplyCallback done,
                 std::optional<std::size_t> shard = std::nullopt);
  // Blocking form. An error reply is a Reply of type kError; transport failures are
  // kUnavailable (or kFailedPrecondition for authentication and TLS trust). Runs on the
  // calling thread over a lent connection when one is free (see Lend), else through
  // the I/O thread.
  Result<Reply> Call(std::vector<std::string> args);
  // PING: OK, or why the server cannot be used (unreachable, auth, TLS: kUnavailable or
  // kFailedPrecondition, as Call and ReplyError say). Blocks like Call.
  Status Ping();
  // EVAL the first time, then EVALSHA, and EVAL again if the server lost its script
  // cache (NOSCRIPT): one round trip in the usual case. Sharded by keys[0].
  Result<Reply> Eval(const Script& script, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args);
  // The same without blocking; `done` runs on the I/O thread.
  // `send_source`: always EVAL, so that the call is never re-sent after a NOSCRIPT and
  // stays in order with the commands sent after it.
  void EvalAsync(const Script& script, const std::vector<std::string>& keys,
                 const std::vector<std::string>& args, ReplyCallback done,
                 bool send_source = false);

  // Eval, then `WAIT replicas timeout` on the same connection, so that it waits for this
  // script's writes: the script's reply, and in *acked how many replicas acknowledged them
  // (WAIT's answer; -1 if it got none; 0 if the script failed, and no WAIT is sent).
  // `timeout` must be below the command timeout. Blocks like Eval.
  Result<Reply> EvalWaited(const Script& script, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args, int replicas,
                           std::chrono::milliseconds timeout, std::int64_t* acked);
  using WaitedCallback = std::function<void(Result<Reply>, std::int64_t acked)>;
  // The same without blocking; `done` runs on the I/O thread.
  void EvalWaitedAsync(const Script& script, const std::vector<std::string>& keys,
                       const std::vector<std::string>& args, int replicas,
                       std::chrono::milliseconds timeout, WaitedCallback done);

  // Runs `fn` on the I/O thread after `delay` (dropped if the client stops first).
  void After(std::chrono::milliseconds delay, std::function<void()> fn);

  // Subscribes to `channel` on the shared subscriber connection (SUBSCRIBE is sent only
  // by the first waiter); the subscription ends when the returned object is destroyed.
  // `waiter`: share one with other subscriptions; null: a new one. `sharded`: SSUBSCRIBE
  // (Redis 7's sharded pub/sub: the server must serve the channel's slot); the server
  // ending it unasked (the slot moved) fails the waiters. A channel keeps the mode of
  // its first subscription while it has subscribers.
  std::unique_ptr<Subscription> Subscribe(const std::string& channel,
                                          std::shared_ptr<Waiter> waiter = nullptr,
                                          bool sharded = false);

  std::string endpoint() const { return endpoint_; }
  // True on this client's I/O thread (in a `done` of CallAsync or EvalAsync).
  bool on_io_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  friend class Subscription;
  struct Channel {
    std::set<std::shared_ptr<Waiter>> waiters;
    bool subscribed = false;  // SUBSCRIBE sent, no UNSUBSCRIBE since
    bool sharded = false;     // SSUBSCRIBE and SUNSUBSCRIBE instead
    int sent = 0;             // SUBSCRIBEs sent ...
    int acked = 0;            // ... and confirmed
  };
  // The rest run on the I/O thread.
  void OnPush(const Reply& reply);
  // Runs `start` with a callback and blocks for its reply; `calls`: how many round trips
  // it may take, for the safety bound on the wait.
  Result<Reply> Await(const std::function<void(ReplyCallback)>& start, int calls);
  // A connection for a blocking call on the caller's thread (plain TCP; not on the I/O
  // thread), connected; null when pool_size are out already, or for a second after one
  // could not connect (then the I/O thread's connections, with their backoff, serve).
  // A failure to connect is returned (nothing was sent).
  Result<std::unique_ptr<BlockingConnection>> Lend();
  void GiveBack(std::unique_ptr<BlockingConnection> connection);
  // Runs `fn` on a lent connection and gives it back; `fallback` when none is lent.
  // (A template, defined in client.cc: no std::function on the hot path.)
  template <typename Fn, typename Fallback>
  Result<Reply> OnLent(Fn fn, Fallback fallback);
  // The server's addresses, for a lent connection about to connect: resolved on the I/O
  // thread (as Connection does, so both follow DNS alike), waited for at most
  // connect_timeout.
  Result<std::vector<asio::ip::tcp::endpoint>> Addresses();
  Result<Reply> EvalOn(BlockingConnection& connection, const Script& script,
                       const std::vector<std::string>& keys, const std::vector<std::string>& args);
  bool ScriptLoaded(const std::string& sha1);
  void OnSubscriberDown(const Status& status);
  void Unsubscribe(const std::string& channel, const std::shared_ptr<Waiter>& waiter);

  const ClientOptions options_;
  const std::string endpoint_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::ip::tcp::resolver resolver_{io_};          // used on the I/O thread
  std::vector<std::unique_ptr<Connection>> pool_;  // used on the I/O thread
  std::unique_ptr<Connection> subscriber_;         // used on the I/O thread
  std::map<std::string, Channel> channels_;        // used on the I/O thread
  // Scripts this server has run: sent once with EVAL (which caches them), then by
  // EVALSHA. Per client, as each Redis server has its own script cache.
  std::mutex scripts_mu_;
  std::set<std::string> scripts_loaded_;  // guarded by scripts_mu_
  // At most pool_size connections are lent at once: beyond that, pipelining on the I/O
  // thread's connections does better than more sockets.
  std::mutex lend_mu_;
  std::vector<std::unique_ptr<BlockingConnection>> idle_;  // guarded by lend_mu_
  int lent_ = 0;                                           // guarded by lend_mu_
  std::chrono::steady_clock::time_point lend_after_{};     // guarded by lend_mu_
  std::thread thread_;                                     // declared last: started last
};

// Destroys `client`. On its own I/O thread (the last owner let go in a callback), which
// cannot stop and join itself, a process-wide thread destroys it instead, soon after.
void Dispose(std::unique_ptr<Client> client);

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_CLIENT_CLIENT_H_
