// blocking_connection.h: one plain-TCP Redis connection used by the calling thread
// itself: the command is written and its reply read on that thread, with no hand-off to
// the client's I/O thread, so a blocking call costs what a raw hiredis loop costs.
// Connects, authenticates and selects the database on first use; TLS is not done here
// (rediss:// always goes through Connection on the I/O thread).
//
// Thread-safety: one thread at a time (Client lends these out from a pool).
#ifndef DLOCK_SRC_REDIS_BLOCKING_CONNECTION_H_
#define DLOCK_SRC_REDIS_BLOCKING_CONNECTION_H_

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "dlock/status.h"
#include "redis/connection.h"
#include "redis/protocol.h"

namespace dlock::redis {

class BlockingConnection {
 public:
  explicit BlockingConnection(ConnectionOptions options);
  ~BlockingConnection();  // closes the socket
  BlockingConnection(const BlockingConnection&) = delete;
  BlockingConnection& operator=(const BlockingConnection&) = delete;

  // Makes sure the connection is up: connects (within connect_timeout), then AUTH and
  // SELECT, if it is not, or if the server closed it while it was idle. On failure
  // nothing of the caller's has been sent: kUnavailable, or kFailedPrecondition when
  // AUTH or SELECT was refused.
  Status Ready();

  // Writes one encoded command and reads its reply (an error reply is a Reply of type
  // kError), within command_timeout (each send and recv waits at most that long). A transport
  // failure or a timeout closes the connection and is kUnavailable: the command may or may not have
  // run.
  Result<Reply> Call(std::string_view wire);

  bool connected() const { return fd_ >= 0; }

 private:
  Status Connect();
  Status Write(std::string_view data, std::chrono::steady_clock::time_point deadline);
  Result<Reply> Read(std::chrono::steady_clock::time_point deadline);
  // Waits for `events` on the socket until `deadline`; false on timeout.
  bool Poll(short events, std::chrono::steady_clock::time_point deadline);
  Status Lost(std::string why);  // closes; kUnavailable naming the endpoint
  void Close();
  std::string endpoint() const;

  const ConnectionOptions options_;
  int fd_ = -1;
  std::unique_ptr<ReplyParser> parser_;
  std::array<char, 16384> buffer_{};
};

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_BLOCKING_CONNECTION_H_
