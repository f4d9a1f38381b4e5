#include "redis/common/replies.h"

#include <charconv>
#include <chrono>
#include <string>

#include "core/lease_rules.h"

namespace dlock::redis {

std::int64_t ToInt(const Reply& r) {
  if (r.type == Reply::Type::kInteger) return r.integer;
  std::int64_t v = 0;
  std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  return v;
}

FencingToken ToToken(const Reply& r) {
  if (r.type == Reply::Type::kInteger) return static_cast<FencingToken>(r.integer);
  FencingToken v = 0;
  auto [end, ec] = std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  return ec == std::errc() && end == r.str.data() + r.str.size() ? v : 0;
}

std::optional<InstanceState> ParseInspectReply(std::string_view name, const Reply& reply) {
  if (reply.elements.size() < 6) return std::nullopt;
  const auto& e = reply.elements;
  InstanceState out;
  out.state.name = std::string(name);
  out.counter = ToToken(e[5]);
  std::int64_t pttl = ToInt(e[0]);
  out.state.held = pttl > 0;
  out.state.token = out.state.held ? ToToken(e[1]) : out.counter;
  if (out.state.held) {
    using std::chrono::milliseconds;
    out.state.remaining = milliseconds(pttl);
    out.state.holder.host = e[2].str;
    out.state.holder.pid = ToInt(e[3]);
    out.state.holder.since = internal::WallClockFromMs(ToInt(e[4]));
  }
  return out;
}

}  // namespace dlock::redis
