// ZooKeeper children and lock paths: sorting any child names is a total order that puts
// every contender in, and a lock path is absolute with no empty, "." or ".." component.
#include <algorithm>
#include <string>
#include <vector>

#include "fuzz.h"
#include "zookeeper/recipe.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = AsText(data, size);
  std::vector<std::string> children;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    auto end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    children.emplace_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  auto sorted = dlock::zk::SortContenders(children);
  FUZZ_CHECK(sorted.size() <= children.size());
  auto reversed = children;
  std::reverse(reversed.begin(), reversed.end());
  auto again = dlock::zk::SortContenders(reversed);
  FUZZ_CHECK(again.size() == sorted.size());
  for (std::size_t i = 0; i < sorted.size(); ++i) FUZZ_CHECK(again[i].node == sorted[i].node);
  auto path = dlock::zk::LockPath("/locks", children.front());
  if (path.ok()) {
    FUZZ_CHECK(path->starts_with("/locks/"));
    FUZZ_CHECK(path->find("//") == std::string::npos);
    FUZZ_CHECK(path->find("/../") == std::string::npos && !path->ends_with("/.."));
  }
  return 0;
}
