// blocking_connection.h: one plain-TCP Redis connection used by the calling thread
// itself: the command is written and its reply read on that thread, with no hand-off to
// the client's I/O thread, so a blocking call costs what a raw hiredis loop costs.
// Connects to addresses resolved by its owner (Client resolves on its I/O thread, within
// connect_timeout), then authenticates and selects the database; TLS is not done here
// (rediss:// always goes through Connection on the I/O thread).
//
// Thread-safety: one thread at a time (Client lends these out from a pool).
#ifndef DLOCK_SRC_REDIS_CLIENT_BLOCKING_CONNECTION_H_
#define DLOCK_SRC_REDIS_CLIENT_BLOCKING_CONNECTION_H_

#include <array>
#include <asio/ip/tcp.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/status.h"
#include "redis/client/connection.h"
#include "redis/client/protocol.h"

namespace dlock::redis {

class BlockingConnection {
 public:
  explicit BlockingConnection(ConnectionOptions options);
  ~BlockingConnection();  // closes the socket
  BlockingConnection(const BlockingConnection&) = delete;
  BlockingConnection& operator=(const BlockingConnection&) = delete;

  // True if connected and not closed by the server since the last command (a closed one
  // is closed here too).
  bool Usable();

  // Connects to the first of `addresses` that accepts within connect_timeout (all of
  // them together), then sends AUTH and SELECT. On failure nothing of the caller's has
  // been sent: kUnavailable, or kFailedPrecondition when AUTH or SELECT was refused.
  Status Connect(const std::vector<asio::ip::tcp::endpoint>& addresses);

  // Writes one encoded command and reads its reply (an error reply is a Reply of type
  // kError), all within command_timeout. A transport failure or a timeout closes the
  // connection and is kUnavailable: the command may or may not have run.
  Result<Reply> Call(std::string_view wire);

  bool connected() const { return fd_ >= 0; }

 private:
  using Steady = std::chrono::steady_clock;
  Status Write(std::string_view data, Steady::time_point deadline);
  Result<Reply> Read(Steady::time_point deadline);
  // Sets the socket's send and receive timeouts to what is left until `deadline`, after
  // a partial read or write (the common command takes one of each, with the timeouts
  // set at connect). false if nothing is left.
  bool Shorten(Steady::time_point deadline);
  Status TimedOut();
  Status Lost(std::string why);  // closes; kUnavailable naming the endpoint
  void Close();
  std::string endpoint() const;

  const ConnectionOptions options_;
  int fd_ = -1;
  bool shortened_ = false;  // the socket timeouts are below command_timeout
  std::unique_ptr<ReplyParser> parser_;
  std::array<char, 16384> buffer_{};
};

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_CLIENT_BLOCKING_CONNECTION_H_
