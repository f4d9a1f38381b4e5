// The etcd backend against a real single-member etcd on loopback: the conformance suite,
// then what is particular to etcd (leases, watch wake-ups, FIFO, etcd auth, a restart
// while held, loss when the server dies). Interoperability with `etcdctl lock` is in
// cli_zk_etcd_test.py (EtcdCliTest).
#include "dlock/backends/etcd.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "conformance/backend_conformance.h"
#include "dlock/locker.h"
#include "dlock/open.h"
#include "dlock/queueing_backend.h"
#include "dlock/testing/faulty_backend.h"
#include "integration/backend_util.h"
#include "integration/etcd_server.h"
#include "integration/server_process.h"
#include "test_util.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using Shared = SharedServer<EtcdServer>;
const auto* const env = ::testing::AddGlobalTestEnvironment(new Shared);

std::shared_ptr<Backend> SharedServerBackend() {
  return Shared::get() ? Open(Shared::get()->Uri()) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Etcd, BackendConformance,
                         ::testing::Values(BackendFactory{"etcd", SharedServerBackend}),
                         FactoryName);

TEST(EtcdTest, KeysFollowEtcdsMutexLayout) {
  auto backend = SharedServerBackend();
  const std::string name = "layout-" + NewOwnerId();
  auto lease = backend->TryAcquire(Request(name, seconds(10)));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  std::string out;
  ASSERT_EQ(Shared::get()->Ctl({"get", "--prefix", name + "/", "--write-out", "fields"}, &out), 0)
      << out;
  // One key, NAME/<lease id in hex>, created at the token's revision.
  EXPECT_NE(out.find("\"CreateRevision\" : " + std::to_string(lease->token)), std::string::npos)
      << out;
  EXPECT_NE(out.find("\"Key\" : \"" + name + "/"), std::string::npos) << out;
  ASSERT_TRUE(backend->Release(*lease).ok());
  ASSERT_EQ(Shared::get()->Ctl({"get", "--prefix", name + "/", "--keys-only"}, &out), 0);
  EXPECT_EQ(out, "");
}

TEST(EtcdTest, TheTtlIsWholeSecondsAtLeastTheServersMinimum) {
  auto backend = SharedServerBackend();
  auto lease = backend->TryAcquire(Request("ttl-" + NewOwnerId(), milliseconds(2500)));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(lease->ttl, seconds(3));
  EXPECT_TRUE(backend->Release(*lease).ok());
}

TEST(EtcdTest, WaiterIsWokenByTheWatchNotByPolling) {
  auto holder = SharedServerBackend();
  auto faulty = std::make_shared<testing::FaultyBackend>(SharedServerBackend());
  const std::string name = "wake-" + NewOwnerId();
  auto lease = holder->TryAcquire(Request(name, seconds(30)));
  ASSERT_TRUE(lease.ok());
  Locker locker(faulty);
  std::optional<Result<Lock>> got;
  std::thread waiter([&] { got.emplace(locker.Acquire(name, {.wait = seconds(20)})); });
  ASSERT_TRUE(WaitFor([&] { return holder->Inspect(name)->waiters == 1; }));
  auto released_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(holder->Release(*lease).ok());
  waiter.join();
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  EXPECT_GT((*got)->token(), lease->token);
  EXPECT_LT(std::chrono::steady_clock::now() - released_at, seconds(5));
  EXPECT_LE(faulty->calls(testing::Op::kTryAcquire), 3);
}

TEST(EtcdTest, AWaiterKeepsItsPlaceLongerThanItsTtl) {
  const std::string name = "patient-" + NewOwnerId();
  auto holder = SharedServerBackend();
  auto lease = holder->TryAcquire(Request(name, seconds(30)));
  ASSERT_TRUE(lease.ok());
  Locker locker(SharedServerBackend(), {.ttl = seconds(2)});
  std::optional<Result<Lock>> got;
  std::thread waiter([&] { got.emplace(locker.Acquire(name, {.wait = seconds(30)})); });
  ASSERT_TRUE(WaitFor([&] { return holder->Inspect(name)->waiters == 1; }));
  // Three TTLs in line: the waiter's lease is kept alive in the background.
  auto until = std::chrono::steady_clock::now() + seconds(6);
  EXPECT_FALSE(WaitFor([&] { return holder->Inspect(name)->waiters != 1; }, seconds(6)));
  EXPECT_GE(std::chrono::steady_clock::now(), until);
  ASSERT_TRUE(holder->Release(*lease).ok());
  waiter.join();
  ASSERT_TRUE(got->ok()) << got->status().ToString();
}

TEST(EtcdTest, AWaitersOwnerIdCannotExtendFromAnotherProcess) {
  const std::string name = "waiter-extend-" + NewOwnerId();
  auto holder = SharedServerBackend();
  auto lease = holder->TryAcquire(Request(name));
  ASSERT_TRUE(lease.ok());
  auto waiter = SharedServerBackend();
  auto queued = Request(name);
  queued.queue = true;
  ASSERT_EQ(waiter->TryAcquire(queued).status().code(), Code::kContended);
  // Another process with the waiter's owner id finds its key, which is not first.
  Lease pretend{name, queued.owner_id, 0, seconds(30), {}};
  EXPECT_EQ(SharedServerBackend()->Extend(pretend, seconds(60)).status().code(), Code::kNotHeld);
  EXPECT_EQ(holder->Inspect(name)->token, lease->token);
  EXPECT_TRUE(waiter->queueing()->LeaveQueue(name, queued.owner_id).ok());
  EXPECT_TRUE(holder->Release(*lease).ok());
}

TEST(EtcdTest, AuthUsersAndWrongPasswords) {
  auto server = EtcdServer::Start();
  ASSERT_NE(server, nullptr);
  std::string out;
  ASSERT_EQ(server->Ctl({"user", "add", "root:rootpw"}, &out), 0) << out;
  ASSERT_EQ(server->Ctl({"auth", "enable"}, &out), 0) << out;
  auto backend = Open(server->Uri("root:rootpw"));
  ASSERT_NE(backend, nullptr);
  auto lease = backend->TryAcquire(Request("auth"));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_TRUE(backend->Release(*lease).ok());
  for (std::string userinfo : {std::string("root:wrong"), std::string("nobody:pw")}) {
    auto refused = OpenBackend(server->Uri(userinfo));
    EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition) << userinfo;
    EXPECT_EQ(refused.status().message().find("wrong"), std::string::npos);
  }
  // No credentials on a server with auth: refused at the first call.
  auto anonymous = Open(server->Uri());
  ASSERT_NE(anonymous, nullptr);
  EXPECT_EQ(anonymous->TryAcquire(Request("auth")).status().code(), Code::kFailedPrecondition);
}

TEST(EtcdTest, TlsVerifiesTheServer) {
  TempDir dir;
  TlsFiles tls;
  ASSERT_TRUE(tls.Make(dir.path() / "tls", "dlock-etcd-test-ca"));
  auto server = EtcdServer::Start(&tls);
  ASSERT_NE(server, nullptr);
  auto trusted = Open(server->Uri("", "?cacert=" + tls.ca_cert.string()));
  ASSERT_NE(trusted, nullptr);
  auto lease = trusted->TryAcquire(Request("tls"));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_TRUE(trusted->Release(*lease).ok());
  // Not trusted (the system's CAs), or not TLS at all: refused at open, in bounded time.
  for (std::string suffix : {"?tls=true&connect_timeout=2s", "?connect_timeout=2s"}) {
    auto refused = OpenBackend(server->Uri("", suffix));
    EXPECT_EQ(refused.status().code(), Code::kUnavailable) << suffix;
  }
}

TEST(EtcdTest, BadUrisAndUnreachableServers) {
  for (std::string uri : {"etcd://127.0.0.1:1/path", "etcd://127.0.0.1:1?bogus=1",
                          "etcd://:pw@127.0.0.1:1", "etcd://127.0.0.1:1?cert=/x",
                          "etcd://127.0.0.1:1?timeout=0s", "etcd://a.example:1,b.example:2"}) {
    EXPECT_EQ(OpenBackend(uri).status().code(), Code::kInvalidArgument) << uri;
  }
  auto start = std::chrono::steady_clock::now();
  auto unreachable =
      OpenBackend("etcd://127.0.0.1:" + std::to_string(ClosedPort()) + "?connect_timeout=500ms");
  EXPECT_EQ(unreachable.status().code(), Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
}

TEST(EtcdFaultTest, ARestartedServerKeepsTheLease) {
  auto server = EtcdServer::Start();
  ASSERT_NE(server, nullptr);
  auto a = Open(server->Uri());
  ASSERT_NE(a, nullptr);
  auto lease = a->TryAcquire(Request("job", seconds(10)));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  ASSERT_TRUE(server->Restart());
  ASSERT_TRUE(WaitFor([&] { return a->Extend(*lease, seconds(10)).ok(); }, seconds(10)));
  auto b = Open(server->Uri());
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->TryAcquire(Request("job")).status().code(), Code::kContended);
  ASSERT_TRUE(a->Release(*lease).ok());
  auto next = b->TryAcquire(Request("job"));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_GT(next->token, lease->token);
}

TEST(EtcdFaultTest, LossIsSignalledBeforeValidUntilWhenTheServerDies) {
  auto server = EtcdServer::Start();
  ASSERT_NE(server, nullptr);
  ExpectLossBeforeValidUntil(Open(server->Uri("", "?timeout=500ms")), seconds(3),
                             [&] { server->Stop(); });
}

}  // namespace
}  // namespace dlock::test
