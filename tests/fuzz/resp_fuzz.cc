// Redis replies: any bytes from a server, fed in pieces, give replies, "need more", or a
// protocol error; never a crash or a hang.
#include "fuzz.h"
#include "redis/client/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  dlock::redis::ReplyParser parser;
  std::size_t at = 0;
  while (at < size) {
    std::size_t piece = std::min<std::size_t>(size - at, 1 + data[at] % 16);
    parser.Feed(reinterpret_cast<const char*>(data + at), piece);
    at += piece;
    for (int i = 0; i < 1000; ++i) {
      auto reply = parser.Next();
      if (!reply.ok()) return 0;  // the connection would be dropped
      if (!*reply) break;
    }
  }
  return 0;
}
