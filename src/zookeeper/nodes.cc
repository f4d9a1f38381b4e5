#include "zookeeper/nodes.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/lease_rules.h"

namespace dlock::zk {
namespace {

using std::chrono::milliseconds;

// The names in `strings`, which it then frees.
std::vector<std::string> TakeStrings(String_vector& strings) {
  std::vector<std::string> out(strings.data, strings.data + strings.count);
  deallocate_String_vector(&strings);
  return out;
}

}  // namespace

Result<std::vector<std::string>> GetChildren(const Session& session, const std::string& path) {
  String_vector children{};
  int rc = zoo_get_children(session.handle(), path.c_str(), 0, &children);
  if (rc == ZNONODE) return std::vector<std::string>{};
  if (rc != ZOK) return ZkError(rc, "listing " + path);
  return TakeStrings(children);
}

Result<std::optional<NodeContent>> GetNode(const Session& session, const std::string& path) {
  NodeContent node;
  node.data.resize(4096);
  int len = static_cast<int>(node.data.size());
  int rc = zoo_get(session.handle(), path.c_str(), 0, node.data.data(), &len, &node.stat);
  if (rc == ZNONODE) return std::optional<NodeContent>();
  if (rc != ZOK) return ZkError(rc, "reading " + path);
  node.data.resize(len > 0 ? static_cast<std::size_t>(len) : 0);
  return std::optional<NodeContent>(std::move(node));
}

Result<std::optional<std::vector<std::string>>> WatchChildren(const Session& session,
                                                              const std::string& path,
                                                              Watch& watch) {
  String_vector children{};
  int rc = zoo_wget_children(session.handle(), path.c_str(), &Watch::Callback, watch.context(),
                             &children);
  if (rc == ZNONODE) return std::optional<std::vector<std::string>>();
  if (rc != ZOK) return ZkError(rc, "watching " + path);
  return std::optional<std::vector<std::string>>(TakeStrings(children));
}

Result<bool> WatchNode(const Session& session, const std::string& path, Watch& watch) {
  std::array<char, 1> ignored{};
  int len = static_cast<int>(ignored.size());
  Stat stat{};
  int rc = zoo_wget(session.handle(), path.c_str(), &Watch::Callback, watch.context(),
                    ignored.data(), &len, &stat);
  if (rc == ZNONODE) return false;
  if (rc != ZOK) return ZkError(rc, "watching " + path);
  return true;
}

std::string NodeData(const HolderInfo& holder, milliseconds ttl) {
  auto since = std::chrono::duration_cast<milliseconds>(holder.since.time_since_epoch()).count();
  return nlohmann::json{
      {"host", holder.host}, {"pid", holder.pid}, {"since", since}, {"ttl_ms", ttl.count()}}
      .dump();
}

void ParseNodeData(const std::string& data, LockState& state) {
  auto j = nlohmann::json::parse(data, nullptr, false);
  if (!j.is_object()) return;
  if (auto it = j.find("host"); it != j.end() && it->is_string()) state.holder.host = *it;
  if (auto it = j.find("pid"); it != j.end() && it->is_number_integer()) state.holder.pid = *it;
  if (auto it = j.find("since"); it != j.end() && it->is_number_integer()) {
    state.holder.since = internal::WallClockFromMs(it->get<int64_t>());
  }
  if (auto it = j.find("ttl_ms"); it != j.end() && it->is_number_integer()) {
    state.remaining = milliseconds(it->get<int64_t>());
  }
}

FencingToken ParseToken(const std::string& text) {
  FencingToken token = 0;
  std::from_chars(text.data(), text.data() + text.size(), token);
  return token;
}

}  // namespace dlock::zk
