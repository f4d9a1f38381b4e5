#include "file/record_format.h"

#include <fmt/format.h>

#include <charconv>
#include <map>

#include "core/lease_rules.h"
#include "file/name_encoding.h"

namespace dlock::internal {
namespace {

constexpr std::string_view kMagic = "dlock-lock 1";

template <class Int>
bool ParseInt(const std::map<std::string_view, std::string_view>& fields, std::string_view key,
              Int& out) {
  auto it = fields.find(key);
  if (it == fields.end()) return false;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), out);
  return ec == std::errc() && end == it->second.data() + it->second.size();
}

}  // namespace

std::string SerializeRecord(const LockRecord& r, std::string_view boot_id) {
  auto since_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(r.holder.since.time_since_epoch())
          .count();
  auto expires_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(r.expires.time_since_epoch()).count();
  std::string queue;
  for (const auto& w : r.queue) {
    if (!queue.empty()) queue += ',';
    queue += fmt::format(
        "{}@{}", w.owner,
        std::chrono::duration_cast<std::chrono::nanoseconds>(w.expires.time_since_epoch()).count());
  }
  return fmt::format(
      "{}\nname {}\ntoken {}\nowner {}\nboot {}\nexpires_ns {}\nttl_ms {}\nhost {}\npid {}\n"
      "since_ms {}\nqueue {}\nend\n",
      kMagic, EscapeField(r.name), r.token, r.owner.empty() ? "-" : r.owner, boot_id, expires_ns,
      r.ttl.count(), r.holder.host.empty() ? "-" : EscapeField(r.holder.host), r.holder.pid,
      since_ms, queue.empty() ? "-" : queue);
}

Status ParseRecord(std::string_view text, std::string_view boot_id, LockRecord& r) {
  auto corrupt = [](std::string_view why) {
    return FailedPreconditionError(fmt::format("corrupt lock file ({})", why));
  };
  std::map<std::string_view, std::string_view> fields;
  bool first = true;
  bool ended = false;
  while (!text.empty()) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) break;
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (first) {
      if (line != kMagic) return corrupt("unknown header");
      first = false;
      continue;
    }
    if (line == "end") {
      ended = true;
      break;
    }
    auto sp = line.find(' ');
    if (sp == std::string_view::npos) return corrupt("a line without a value");
    fields[line.substr(0, sp)] = line.substr(sp + 1);
  }
  if (!ended) return corrupt("truncated");

  LockRecord out;
  std::int64_t expires_ns = 0;
  std::int64_t ttl_ms = 0;
  std::int64_t since_ms = 0;
  if (!UnescapeField(fields["name"], out.name) || !ParseInt(fields, "token", out.token) ||
      !ParseInt(fields, "expires_ns", expires_ns) || !ParseInt(fields, "ttl_ms", ttl_ms) ||
      !ParseInt(fields, "pid", out.holder.pid) || !ParseInt(fields, "since_ms", since_ms)) {
    return corrupt("a missing or malformed field");
  }
  // Waiters of this boot, in order (the field is absent in older files).
  std::string_view queue = fields.count("queue") ? fields["queue"] : std::string_view("-");
  if (queue != "-" && fields["boot"] == boot_id) {
    while (!queue.empty()) {
      auto comma = queue.find(',');
      std::string_view item = queue.substr(0, comma);
      queue = comma == std::string_view::npos ? std::string_view() : queue.substr(comma + 1);
      auto at = item.find('@');
      std::int64_t ns = 0;
      if (at == std::string_view::npos ||
          std::from_chars(item.data() + at + 1, item.data() + item.size(), ns).ec != std::errc()) {
        return corrupt("a malformed queue entry");
      }
      out.queue.push_back(
          {std::string(item.substr(0, at)), TimePoint(std::chrono::nanoseconds(ns))});
    }
  }
  std::string_view owner = fields["owner"];
  std::string_view host = fields["host"];
  if (owner.empty()) return corrupt("no owner field");
  if (owner != "-" && fields["boot"] == boot_id) {
    out.owner = std::string(owner);
    out.expires = TimePoint(std::chrono::nanoseconds(expires_ns));
    out.ttl = std::chrono::milliseconds(ttl_ms);
    if (host != "-" && !UnescapeField(host, out.holder.host)) return corrupt("bad host");
    out.holder.since = WallClockFromMs(since_ms);
  } else {
    out.holder = {};
  }
  r = std::move(out);
  return OkStatus();
}

}  // namespace dlock::internal
