// protocol.h: RESP2 on top of hiredis's encoder and parser, which work on any byte
// stream; the transport (plain or TLS) is ours (connection.h).
//
// Thread-safety: Reply is a plain value; a ReplyParser is used by one thread at a time.
#ifndef DLOCK_SRC_REDIS_CLIENT_PROTOCOL_H_
#define DLOCK_SRC_REDIS_CLIENT_PROTOCOL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/status.h"

struct redisReader;

namespace dlock::redis {

struct Reply {
  enum class Type { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  std::int64_t integer = 0;
  std::vector<Reply> elements;

  bool is_error() const { return type == Type::kError; }
};

// One command in RESP: "*N\r\n$len\r\narg\r\n...". Arguments are binary-safe.
std::string EncodeCommand(const std::vector<std::string>& args);

class ReplyParser {
 public:
  ReplyParser();
  ~ReplyParser();
  ReplyParser(const ReplyParser&) = delete;
  ReplyParser& operator=(const ReplyParser&) = delete;

  void Feed(const char* data, std::size_t size);
  // The next complete reply, nothing if more bytes are needed, or kInternal on a
  // protocol error (the stream is then unusable).
  Result<std::unique_ptr<Reply>> Next();

 private:
  redisReader* reader_;
};

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_CLIENT_PROTOCOL_H_
