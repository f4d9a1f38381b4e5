#include "zookeeper/recipe.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>

namespace dlock::zk {
namespace {

// Markers after which a contender's sequence number follows: Curator's "lock-" (its
// InterProcessMutex sorts on what follows the last "lock-"), kazoo's Lock and ReadLock.
constexpr std::array<std::string_view, 3> kMarkers = {"-lock-", "__lock__", "__rlock__"};

std::optional<std::string> SequenceOf(std::string_view node) {
  for (std::string_view marker : kMarkers) {
    auto at = node.rfind(marker);
    if (at == std::string_view::npos) continue;
    std::string_view digits = node.substr(at + marker.size());
    if (!digits.empty() && digits.front() == '-') digits.remove_prefix(1);
    if (digits.size() != 10) continue;
    if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::string(node.substr(at + marker.size()));
    }
  }
  return std::nullopt;
}

}  // namespace

Result<std::string> LockPath(std::string_view root, std::string_view name) {
  std::string path(root);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  if (path != "/") path += '/';
  path += name;
  // Every component must be a usable znode name.
  std::size_t begin = 1;
  while (begin <= path.size()) {
    auto end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + begin, end - begin);
    if (part.empty() || part == "." || part == "..") {
      return InvalidArgumentError(fmt::format(
          "lock path '{}' has an empty, '.' or '..' component, which ZooKeeper does not allow",
          path));
    }
    begin = end + 1;
  }
  if (path == "/zookeeper" || path.starts_with("/zookeeper/")) {
    return InvalidArgumentError(
        fmt::format("lock path '{}' is under /zookeeper, which the server reserves", path));
  }
  return path;
}

std::string OwnerUuid(std::string_view owner_id) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(owner_id.data()), owner_id.size(), digest.data());
  std::string hex;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) hex += '-';
    hex += fmt::format("{:02x}", digest[static_cast<std::size_t>(i)]);
  }
  return hex;
}

std::string NodePrefix(std::string_view owner_id) { return "_c_" + OwnerUuid(owner_id) + "-lock-"; }

std::optional<std::string> FindOwnNode(const std::vector<std::string>& children,
                                       std::string_view owner_id) {
  const std::string prefix = NodePrefix(owner_id);
  for (const auto& child : children) {
    if (child.starts_with(prefix)) return child;
  }
  return std::nullopt;
}

std::vector<Contender> SortContenders(const std::vector<std::string>& children) {
  std::vector<Contender> out;
  for (const auto& child : children) {
    if (auto seq = SequenceOf(child)) out.push_back({child, *seq});
  }
  std::sort(out.begin(), out.end(), [](const Contender& a, const Contender& b) {
    return a.sequence != b.sequence ? a.sequence < b.sequence : a.node < b.node;
  });
  return out;
}

}  // namespace dlock::zk
