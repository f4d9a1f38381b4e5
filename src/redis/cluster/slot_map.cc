#include "redis/cluster/slot_map.h"

#include <fmt/format.h>

#include <charconv>

namespace dlock::redis {
namespace {

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto at = text.find(sep);
    auto part = text.substr(0, at);
    if (!part.empty()) out.push_back(part);
    if (at == std::string_view::npos) break;
    text.remove_prefix(at + 1);
  }
  return out;
}

template <typename T>
bool Number(std::string_view text, T* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool HasFlag(std::string_view flags, std::string_view flag) {
  for (auto f : Split(flags, ',')) {
    if (f == flag) return true;
  }
  return false;
}

// "ip:port@cport[,hostname]": the host (ip) and port; false if malformed.
bool ParseAddress(std::string_view text, std::string_view fallback_host, std::string* host,
                  std::uint16_t* port) {
  text = text.substr(0, text.find(','));
  text = text.substr(0, text.find('@'));
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || !Number(text.substr(colon + 1), port)) return false;
  *host = std::string(colon == 0 ? fallback_host : text.substr(0, colon));
  return true;
}

// Marks the slots of `range` ("N" or "A-B"; a "[...]" migration marker is skipped) as
// claimed by master `m` with `epoch`, unless a master of higher epoch claims them.
bool Claim(std::string_view range, std::int16_t m, const std::vector<ClusterMaster>& masters,
           SlotMap& map) {
  if (range.starts_with('[')) return true;
  int first = 0;
  int last = 0;
  const auto dash = range.find('-');
  if (dash == std::string_view::npos) {
    if (!Number(range, &first)) return false;
    last = first;
  } else if (!Number(range.substr(0, dash), &first) || !Number(range.substr(dash + 1), &last)) {
    return false;
  }
  if (first < 0 || last >= kClusterSlots || first > last) return false;
  for (int s = first; s <= last; ++s) {
    auto& owner = map.owner[static_cast<std::size_t>(s)];
    if (owner < 0 || masters[static_cast<std::size_t>(owner)].epoch < masters[m].epoch) owner = m;
  }
  return true;
}

}  // namespace

Result<SlotMap> ParseClusterNodes(std::string_view text, std::string_view answered_by) {
  SlotMap map;
  map.owner.fill(-1);
  struct Claims {
    std::int16_t master;
    std::vector<std::string_view> ranges;
  };
  std::vector<Claims> claims;
  for (auto line : Split(text, '\n')) {
    if (line.ends_with('\r')) line.remove_suffix(1);
    auto fields = Split(line, ' ');
    if (fields.empty()) continue;
    ClusterMaster m;
    if (fields.size() < 8 || !ParseAddress(fields[1], answered_by, &m.host, &m.port) ||
        !Number(fields[6], &m.epoch)) {
      return UnavailableError(fmt::format("not a CLUSTER NODES line: '{}'", line));
    }
    const auto flags = fields[2];
    if (!HasFlag(flags, "master") || HasFlag(flags, "fail") || HasFlag(flags, "handshake") ||
        HasFlag(flags, "noaddr") || m.port == 0) {
      continue;
    }
    m.id = std::string(fields[0]);
    claims.push_back({static_cast<std::int16_t>(map.masters.size()),
                      std::vector<std::string_view>(fields.begin() + 8, fields.end())});
    map.masters.push_back(std::move(m));
  }
  for (const auto& c : claims) {
    for (auto range : c.ranges) {
      if (!Claim(range, c.master, map.masters, map)) {
        return UnavailableError(fmt::format("not a CLUSTER NODES slot range: '{}'", range));
      }
    }
  }
  for (auto o : map.owner) map.unserved += o < 0 ? 1 : 0;
  return map;
}

}  // namespace dlock::redis
