#include "redis/client/protocol.h"

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

// hiredis 0.14 (Debian 12's) allocates an array's element table as soon as it reads the
// header, so "*444444441\r\n" from a broken or hostile server asks for 3.5 GB, and it has
// no limit of its own (1.x has maxelements; found by tests/fuzz/resp_fuzz.cc). Ours are
// a handful of elements: a larger header fails the parse, as a protocol error.
constexpr int kMaxElements = 1 << 16;

const redisReplyObjectFunctions& HiredisFunctions() {
  static const redisReplyObjectFunctions functions = [] {
    redisReader* reader = redisReaderCreate();
    if (reader == nullptr) std::abort();
    redisReplyObjectFunctions fn = *reader->fn;  // hiredis's static defaults, not owned
    redisReaderFree(reader);
    return fn;
  }();
  return functions;
}

void* CreateArray(const redisReadTask* task, int elements) {
  if (elements > kMaxElements) return nullptr;  // the reader fails: REDIS_ERR
  return HiredisFunctions().createArray(task, elements);
}

redisReplyObjectFunctions* BoundedFunctions() {
  static redisReplyObjectFunctions functions = [] {
    redisReplyObjectFunctions fn = HiredisFunctions();
    fn.createArray = CreateArray;
    return fn;
  }();
  return &functions;
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

ReplyParser::ReplyParser() : reader_(redisReaderCreateWithFunctions(BoundedFunctions())) {
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
