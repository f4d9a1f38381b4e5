// The ZooKeeper backend against a real standalone ZooKeeper on loopback: the conformance
// suite, then what is particular to ZooKeeper (sessions, the predecessor watch, FIFO,
// clamped session timeouts, digest auth and ACLs, a server restart while held).
#include <gtest/gtest.h>

#include <atomic>
#include <charconv>
#include <mutex>
#include <thread>

#include "conformance/backend_conformance.h"
#include "dlock/backends/zookeeper.h"
#include "dlock/locker.h"
#include "dlock/open.h"
#include "dlock/queueing_backend.h"
#include "integration/backend_util.h"
#include "integration/server_process.h"
#include "integration/zk_server.h"
#include "test_util.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using Shared = SharedServer<ZkServer>;
const auto* const env = ::testing::AddGlobalTestEnvironment(new Shared);

std::shared_ptr<Backend> SharedServerBackend() {
  return Shared::get() ? Open(Shared::get()->Uri("/dlock-tests")) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(ZooKeeper, BackendConformance,
                         ::testing::Values(BackendFactory{"zk", SharedServerBackend}), FactoryName);

// Requests the server has received so far (its "srvr" report).
long ServerReceived(std::uint16_t port) {
  std::string report = TcpExchange(port, "srvr");
  auto at = report.find("Received: ");
  if (at == std::string::npos) return -1;
  long n = -1;
  const char* begin = report.data() + at + 10;
  std::from_chars(begin, report.data() + report.size(), n);
  return n;
}

TEST(ZkTest, ClosingTheSessionFreesTheLockAtOnce) {
  auto a = SharedServerBackend();
  auto b = SharedServerBackend();
  const std::string name = "session-" + NewOwnerId();
  auto held = a->TryAcquire(Request(name));
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(b->TryAcquire(Request(name)).status().code(), Code::kContended);
  a.reset();  // closes the session: the server deletes its ephemeral node
  auto next = b->TryAcquire(Request(name));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_GT(next->token, held->token);
}

TEST(ZkTest, TheSessionTimeoutIsTheTtlClampedByTheServer) {
  auto backend = SharedServerBackend();
  const std::string name = "clamp-" + NewOwnerId();
  auto short_lease = backend->TryAcquire(Request(name, milliseconds(100)));
  ASSERT_TRUE(short_lease.ok()) << short_lease.status().ToString();
  EXPECT_EQ(short_lease->ttl, milliseconds(1000));  // minSessionTimeout
  ASSERT_TRUE(backend->Release(*short_lease).ok());
  auto long_lease = backend->TryAcquire(Request(name, seconds(90)));
  ASSERT_TRUE(long_lease.ok()) << long_lease.status().ToString();
  EXPECT_EQ(long_lease->ttl, milliseconds(30000));  // maxSessionTimeout
  EXPECT_LE(long_lease->valid_until, std::chrono::steady_clock::now() + seconds(30));
  auto state = backend->Inspect(name);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->remaining, milliseconds(30000));
  EXPECT_TRUE(backend->Release(*long_lease).ok());
}

TEST(ZkTest, WaitingIsAWatchNotPolling) {
  auto holder = SharedServerBackend();
  auto waiter = SharedServerBackend();
  const std::string name = "watch-" + NewOwnerId();
  auto lease = holder->TryAcquire(Request(name));
  ASSERT_TRUE(lease.ok());
  auto queued = Request(name);
  queued.queue = true;
  ASSERT_EQ(waiter->TryAcquire(queued).status().code(), Code::kContended);
  long before = ServerReceived(Shared::get()->port());
  ASSERT_GE(before, 0);
  Status waited = waiter->queueing()
                      ->WaitForTurn(queued, std::chrono::steady_clock::now() + seconds(2), {})
                      .status();
  EXPECT_EQ(waited.code(), Code::kDeadlineExceeded);
  // Two seconds of waiting: the children list and the watch, and no more than a ping.
  EXPECT_LE(ServerReceived(Shared::get()->port()) - before, 5);
  ASSERT_TRUE(waiter->queueing()->LeaveQueue(name, queued.owner_id).ok());
  EXPECT_EQ(holder->Inspect(name)->waiters, 0);
  EXPECT_TRUE(holder->Release(*lease).ok());
}

TEST(ZkTest, DigestAuthProtectsTheNodesItCreates) {
  const std::string root = "/acl-" + NewOwnerId().substr(0, 8);
  auto alice = Open("zk://alice:pw@" + Shared::get()->HostPort() + root);
  ASSERT_NE(alice, nullptr);
  auto lease = alice->TryAcquire(Request("job"));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  ASSERT_TRUE(alice->Release(*lease).ok());
  for (std::string userinfo :
       {std::string("alice:wrong@"), std::string("bob:pw@"), std::string()}) {
    auto other = Open("zk://" + userinfo + Shared::get()->HostPort() + root);
    ASSERT_NE(other, nullptr);
    auto denied = other->TryAcquire(Request("job"));
    EXPECT_EQ(denied.status().code(), Code::kFailedPrecondition) << userinfo;
    EXPECT_EQ(denied.status().message().find("wrong"), std::string::npos);
    EXPECT_EQ(denied.status().message().find('\n'), std::string::npos);
    // Reading is open to anyone: the holder can be seen, not taken.
    EXPECT_TRUE(other->Inspect("job").ok());
  }
}

TEST(ZkTest, BadUrisAndUnreachableServers) {
  for (std::string uri :
       {"zk://127.0.0.1:1/a/../b", "zk://127.0.0.1:1/zookeeper", "zk://127.0.0.1:1?bogus=1",
        "zk://alice@127.0.0.1:1", "zk://127.0.0.1:1?connect_timeout=0s"}) {
    auto backend = OpenBackend(uri);
    EXPECT_EQ(backend.status().code(), Code::kInvalidArgument) << uri;
  }
  auto start = std::chrono::steady_clock::now();
  auto unreachable =
      OpenBackend("zk://127.0.0.1:" + std::to_string(ClosedPort()) + "?connect_timeout=500ms");
  EXPECT_EQ(unreachable.status().code(), Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  auto backend = SharedServerBackend();
  EXPECT_EQ(backend->TryAcquire(Request("a//b")).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(backend->TryAcquire(Request("..")).status().code(), Code::kInvalidArgument);
}

TEST(ZkFaultTest, ARestartedServerKeepsTheSessionAndTheLock) {
  auto server = ZkServer::Start();
  ASSERT_NE(server, nullptr);
  auto a = Open(server->Uri("/locks"));
  ASSERT_NE(a, nullptr);
  auto lease = a->TryAcquire(Request("job", seconds(10)));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  ASSERT_TRUE(server->Restart());
  // The session outlives a restart shorter than its timeout; so does our node.
  ASSERT_TRUE(WaitFor([&] { return a->Extend(*lease, seconds(10)).ok(); }, seconds(10)));
  auto b = Open(server->Uri("/locks"));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->TryAcquire(Request("job")).status().code(), Code::kContended);
  ASSERT_TRUE(a->Release(*lease).ok());
  auto next = b->TryAcquire(Request("job"));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_GT(next->token, lease->token);
}

TEST(ZkFaultTest, LossIsSignalledBeforeValidUntilWhenTheServerDies) {
  auto server = ZkServer::Start();
  ASSERT_NE(server, nullptr);
  ExpectLossBeforeValidUntil(Open(server->Uri("/locks")), seconds(2), [&] { server->Stop(); });
}

}  // namespace
}  // namespace dlock::test
