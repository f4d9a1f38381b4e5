#include "redis/protocol.h"

#include <hiredis/hiredis.h>

#include <cstdlib>

namespace dlock::redis {
namespace {

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING: out.type = Reply::Type::kString; break;
    case REDIS_REPLY_ARRAY: out.type = Reply::Type::kArray; break;
    case REDIS_REPLY_INTEGER: out.type = Reply::Type::kInteger; break;
    case REDIS_REPLY_STATUS: out.type = Reply::Type::kStatus; break;
    case REDIS_REPLY_ERROR: out.type = Reply::Type::kError; break;
    default: out.type = Reply::Type::kNil; break;
  }
  if (r->str != nullptr) out.str.assign(r->str, r->len);
  out.integer = r->integer;
  for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
  return out;
}

}  // namespace

std::string EncodeCommand(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* buf = nullptr;
  int n = redisFormatCommandArgv(&buf, static_cast<int>(argv.size()), argv.data(), lens.data());
  if (n < 0 || buf == nullptr) std::abort();  // only on out-of-memory
  std::string out(buf, static_cast<std::size_t>(n));
  std::free(buf);
  return out;
}

ReplyParser::ReplyParser() : reader_(redisReaderCreate()) {
  if (reader_ == nullptr) std::abort();
}

ReplyParser::~ReplyParser() { redisReaderFree(reader_); }

void ReplyParser::Feed(const char* data, std::size_t size) { redisReaderFeed(reader_, data, size); }

Result<std::unique_ptr<Reply>> ReplyParser::Next() {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    return InternalError("malformed reply from the server (is it a Redis server, and is it TLS?)");
  }
  if (raw == nullptr) return std::unique_ptr<Reply>();
  auto reply = std::make_unique<Reply>(Convert(static_cast<redisReply*>(raw)));
  freeReplyObject(raw);
  return reply;
}

}  // namespace dlock::redis
