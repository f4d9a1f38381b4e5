// connection.h: one Redis connection, plain or TLS, on an Asio io_context: commands are
// queued, written in batches (pipelining: everything queued while a write is in flight
// goes out in the next write), and their replies matched in order. Connects lazily,
// authenticates and selects the database first, times out stalled replies, and after a
// failure refuses commands for a backoff period instead of reconnecting in a loop.
//
// Thread-safety: every method must be called on the io_context's thread.
#ifndef DLOCK_SRC_REDIS_CLIENT_CONNECTION_H_
#define DLOCK_SRC_REDIS_CLIENT_CONNECTION_H_

#include <array>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dlock/status.h"
#include "redis/client/protocol.h"

namespace dlock::redis {

struct ConnectionOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string user;                         // ACL user; empty: "default"
  std::optional<std::string> password;      // AUTH when set
  int db = 0;                               // SELECT when not 0
  std::shared_ptr<asio::ssl::context> tls;  // null: plain TCP
  bool verify_host = true;                  // TLS: check the certificate names `host`
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{2000};
};

using ReplyCallback = std::function<void(Result<Reply>)>;

// What every connection sends before anything else, in order: AUTH when a password is
// set, SELECT when db is not 0. `what` names the step in the error when it is refused.
struct HandshakeCommand {
  std::string what;
  std::string wire;  // encoded
};
std::vector<HandshakeCommand> HandshakeCommands(const ConnectionOptions& options);

class Connection {
 public:
  // `push`: for a subscriber connection, receives every array reply (messages and
  // (un)subscribe confirmations) instead of matching it to a command. `down`: told
  // when the connection fails.
  Connection(asio::io_context& io, ConnectionOptions options,
             std::function<void(const Reply&)> push = nullptr,
             std::function<void(const Status&)> down = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues one encoded command; `done` gets its reply (an error reply is a Reply of
  // type kError) or the connection's failure. done == nullptr: no reply expected
  // (SUBSCRIBE on a push connection). Returns false, after calling done with the last
  // error, if the connection failed recently and is backing off.
  bool Send(std::string wire, ReplyCallback done);

  // Commands queued or awaiting replies.
  std::size_t pending() const { return queued_.size() + inflight_.size(); }
  bool ready() const { return state_ == State::kReady; }
  // Nothing left to write: all queued commands are in the kernel's send buffer, or the
  // connection is down (and they are failed or waiting for it).
  bool flushed() const { return state_ != State::kReady || (queued_.empty() && !writing_); }
  std::string endpoint() const;

 private:
  enum class State { kIdle, kConnecting, kReady, kFailed };
  struct Item {
    std::string wire;
    ReplyCallback done;
    std::chrono::steady_clock::time_point sent{};
  };
  using Stream = asio::ssl::stream<asio::ip::tcp::socket>;

  void Connect();
  void OnConnected();
  void Flush();
  void Read();
  void Dispatch(Reply reply);
  void ArmStallTimer();
  void Fail(Status status);
  template <class F>
  void WithStream(F&& f) {
    if (options_.tls) {
      f(*stream_);
    } else {
      f(stream_->next_layer());
    }
  }

  asio::io_context& io_;
  const ConnectionOptions options_;
  const std::function<void(const Reply&)> push_;
  const std::function<void(const Status&)> down_;
  // ssl::stream needs a context even when only its TCP layer is used (plain redis://).
  asio::ssl::context plain_context_{asio::ssl::context::tls_client};
  asio::ip::tcp::resolver resolver_;
  asio::steady_timer connect_timer_;
  asio::steady_timer stall_timer_;
  std::unique_ptr<Stream> stream_;
  // The previous connection's stream, kept until the next attempt so that its aborted
  // operations never touch a destroyed stream.
  std::unique_ptr<Stream> retired_;
  std::unique_ptr<ReplyParser> parser_;
  State state_ = State::kIdle;
  std::uint64_t generation_ = 0;  // bumped per connection attempt; stale callbacks ignore
  std::deque<Item> queued_;       // not yet written
  std::deque<Item> inflight_;     // written, replies due in this order
  std::string write_buffer_;
  bool writing_ = false;
  bool stall_armed_ = false;
  std::array<char, 16384> read_buffer_{};
  Status last_error_;
  std::chrono::steady_clock::time_point retry_after_{};
  std::chrono::milliseconds retry_delay_{0};
};

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_CLIENT_CONNECTION_H_
