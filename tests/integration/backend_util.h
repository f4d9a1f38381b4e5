// backend_util.h: helpers for the integration tests of networked backends.
#ifndef DLOCK_TESTS_INTEGRATION_BACKEND_UTIL_H_
#define DLOCK_TESTS_INTEGRATION_BACKEND_UTIL_H_

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "dlock/backend.h"
#include "dlock/locker.h"
#include "dlock/open.h"
#include "test_util.h"

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

// Takes the lock "doomed" through `backend` with `ttl`, then calls `kill` (which stops
// the store), and expects the Lock to declare the loss before its valid_until.
inline void ExpectLossBeforeValidUntil(std::shared_ptr<Backend> backend,
                                       std::chrono::milliseconds ttl,
                                       const std::function<void()>& kill) {
  ASSERT_NE(backend, nullptr);
  Locker locker(std::move(backend), {.ttl = ttl});
  auto lock = locker.Acquire("doomed");
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  std::atomic<std::int64_t> lost_at{0};
  std::stop_callback on_lost(
      lock->lost(), [&] { lost_at = std::chrono::steady_clock::now().time_since_epoch().count(); });
  kill();
  ASSERT_TRUE(WaitFor([&] { return lock->lost().stop_requested(); }));
  EXPECT_LT(lost_at.load(), lock->lease().valid_until.time_since_epoch().count());
  EXPECT_EQ(lock->lost_reason().code(), Code::kNotHeld);
}

// A request for `name` by a fresh owner of this process.
inline AcquireRequest Request(std::string name,
                              std::chrono::milliseconds ttl = std::chrono::seconds(30)) {
  return {std::move(name), ttl, NewOwnerId(), HolderInfo::ThisProcess()};
}

// OpenBackend(uri)'s status alone.
inline Status OpenStatus(const std::string& uri) {
  auto backend = OpenBackend(uri);
  return backend.ok() ? OkStatus() : backend.status();
}

// Takes `name` and releases it `n` times through `backend`; the tokens.
inline std::vector<FencingToken> Grants(Backend& backend, const std::string& name, int n) {
  std::vector<FencingToken> out;
  for (int i = 0; i < n; ++i) {
    auto lease = backend.TryAcquire(Request(name, std::chrono::seconds(5)));
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    if (!lease.ok()) break;
    out.push_back(lease->token);
    EXPECT_TRUE(backend.Release(*lease).ok());
  }
  return out;
}

// The failover epoch of a redis+sentinel:// or redis+cluster:// token: its bits from 40
// up (the counter is below; lua/token.lua).
inline FencingToken EpochOf(FencingToken token) { return token >> 40; }

}  // namespace dlock::test

#endif  // DLOCK_TESTS_INTEGRATION_BACKEND_UTIL_H_
