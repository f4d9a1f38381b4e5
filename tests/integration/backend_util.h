// backend_util.h: helpers for the integration tests of networked backends.
#ifndef DLOCK_TESTS_INTEGRATION_BACKEND_UTIL_H_
#define DLOCK_TESTS_INTEGRATION_BACKEND_UTIL_H_

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "dlock/backend.h"
#include "dlock/open.h"

namespace dlock::test {

// One server of type S (RedisServer, ZkServer, EtcdServer) for all the tests of one test
// binary, started before the first test and stopped after the last:
//   const auto* const env = ::testing::AddGlobalTestEnvironment(new SharedServer<ZkServer>);
// then SharedServer<ZkServer>::get() in the tests (null if it could not start).
template <typename S>
class SharedServer : public ::testing::Environment {
 public:
  static S* get() { return server_.get(); }
  void SetUp() override {
    server_ = S::Start();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_.reset(); }

 private:
  static inline std::unique_ptr<S> server_;
};

// OpenBackend(uri), or null after a test failure naming the URI and the error.
inline std::shared_ptr<Backend> Open(const std::string& uri) {
  auto backend = OpenBackend(uri);
  EXPECT_TRUE(backend.ok()) << uri << ": " << backend.status().ToString();
  return backend.ok() ? *backend : nullptr;
}

// A request for `name` by a fresh owner of this process.
inline AcquireRequest Request(std::string name,
                              std::chrono::milliseconds ttl = std::chrono::seconds(30)) {
  return {std::move(name), ttl, NewOwnerId(), HolderInfo::ThisProcess()};
}

}  // namespace dlock::test

#endif  // DLOCK_TESTS_INTEGRATION_BACKEND_UTIL_H_
