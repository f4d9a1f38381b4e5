// test_util.h: small helpers shared by the tests.
#ifndef DLOCK_TESTS_TEST_UTIL_H_
#define DLOCK_TESTS_TEST_UTIL_H_

#include <gmock/gmock.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>

#include "dlock/status.h"

namespace dlock::test {

// Polls `pred` every `poll` until it holds or `limit` of real time passes; for conditions
// another thread or process makes true (a slower `poll` for a `pred` that runs a program).
// Returns pred().
inline bool WaitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds limit = std::chrono::seconds(10),
                    std::chrono::milliseconds poll = std::chrono::milliseconds(1)) {
  auto give_up = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= give_up) return pred();
    std::this_thread::sleep_for(poll);
  }
  return true;
}

// A fresh directory, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dlock-test-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) std::abort();
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

MATCHER_P(StatusIs, code, "") { return arg.code() == code; }
MATCHER(IsOk, "") { return arg.ok(); }

}  // namespace dlock::test

#endif  // DLOCK_TESTS_TEST_UTIL_H_
