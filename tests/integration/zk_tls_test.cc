// zk:// over TLS (?tls=true) against a real TLS-only ZooKeeper (a secureClientPort and no
// clientPort): the conformance suite, a lock taken, waited for and released, the guard,
// and the failures: an untrusted CA, a server certificate that does not name the host, a
// required client certificate missing, a plain client at the TLS port, bad options; and
// the bridge refusing a connection from another process.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "conformance/backend_conformance.h"
#include "dlock/backends/zookeeper.h"
#include "dlock/locker.h"
#include "dlock/open.h"
#include "integration/backend_util.h"
#include "integration/server_process.h"
#include "integration/zk_server.h"
#include "test_util.h"
#include "zookeeper/tls_bridge.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// One TLS-only ZooKeeper (no client certificate required) for the whole binary, and its
// certificates.
class SharedTlsServer : public ::testing::Environment {
 public:
  static ZkServer* get() { return server_.get(); }
  static const TlsFiles& tls() { return tls_; }
  void SetUp() override {
    ASSERT_TRUE(tls_.Make(dir_.path() / "tls", "dlock-zk-tls-test-ca"));
    server_ = ZkServer::Start(&tls_);
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override { server_.reset(); }

 private:
  static inline TempDir dir_;
  static inline TlsFiles tls_;
  static inline std::unique_ptr<ZkServer> server_;
};
const auto* const env = ::testing::AddGlobalTestEnvironment(new SharedTlsServer);

std::string TlsUri(const std::string& path, const std::string& more = "") {
  return SharedTlsServer::get()->Uri(path + "?" + SharedTlsServer::get()->TlsQuery() + more);
}

std::shared_ptr<Backend> SharedServerBackend() {
  return SharedTlsServer::get() ? Open(TlsUri("/dlock-tests")) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(ZooKeeperTls, BackendConformance,
                         ::testing::Values(BackendFactory{"zk_tls", SharedServerBackend}),
                         FactoryName);

void ExpectOneLine(const Status& status, const std::string& says) {
  EXPECT_NE(status.message().find(says), std::string::npos) << status.ToString();
  EXPECT_EQ(status.message().find('\n'), std::string::npos) << status.ToString();
}

TEST(ZkTlsTest, ALockIsTakenWaitedForAndReleasedOverTls) {
  auto a = SharedServerBackend();
  auto b = SharedServerBackend();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  Locker holder(a, {.ttl = seconds(10)});
  Locker waiter(b, {.ttl = seconds(10)});
  auto held = holder.Acquire("tls-job");
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  std::thread release([&] {
    std::this_thread::sleep_for(milliseconds(300));
    EXPECT_TRUE(held->Release().ok());
  });
  auto next = waiter.Acquire("tls-job", {.wait = seconds(10)});
  release.join();
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_GT(next->token(), held->token());
  EXPECT_TRUE(next->Release().ok());
}

TEST(ZkTlsTest, TheGuardTakesTheSameOptions) {
  auto guard = OpenGuard(TlsUri("/tls-guard-" + NewOwnerId().substr(0, 8)));
  ASSERT_TRUE(guard.ok()) << guard.status().ToString();
  auto written = (*guard)->Apply("res", 5, {"create", "/tls-guarded-" + NewOwnerId(), "x"});
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ((*guard)->Apply("res", 4, {"set", "/zookeeper", "x"}).status().code(), Code::kStale);
}

TEST(ZkTlsTest, AnUntrustedServerIsOneLineAndUnavailableAtOnce) {
  TempDir dir;
  TlsFiles other;
  ASSERT_TRUE(other.Make(dir.path(), "another-ca"));
  const auto start = std::chrono::steady_clock::now();
  auto refused =
      OpenBackend(SharedTlsServer::get()->Uri("?tls=true&cacert=" + other.ca_cert.string()));
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  ExpectOneLine(refused.status(), "TLS to ZooKeeper at " + SharedTlsServer::get()->HostPort() +
                                      " failed: certificate verify failed");
  // Not the connect timeout (5 s): a refused handshake ends the wait.
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(3));
  // The system's CAs do not trust the test CA either.
  auto system = OpenBackend(SharedTlsServer::get()->Uri("?tls=true"));
  EXPECT_EQ(system.status().code(), Code::kUnavailable);
  ExpectOneLine(system.status(), "certificate verify failed");
}

TEST(ZkTlsTest, TheServerCertificateMustNameTheHost) {
  // A TLS server whose certificate (the test client's) names no host at all.
  const TlsFiles& tls = SharedTlsServer::tls();
  const std::uint16_t port = FreePort();
  pid_t pid = SpawnServer(
      {"openssl", "s_server", "-quiet", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
       tls.client_cert.string(), "-key", tls.client_key.string()},
      "/dev/null", [&] { return PortAccepts(port); }, "openssl");
  ASSERT_GT(pid, 0);
  auto refused = OpenBackend("zk://127.0.0.1:" + std::to_string(port) +
                             "?tls=true&cacert=" + tls.ca_cert.string());
  KillServer(pid);
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  ExpectOneLine(refused.status(), "IP address mismatch");
}

TEST(ZkTlsTest, AClientCertificateWhenTheServerRequiresOne) {
  auto server = ZkServer::Start(&SharedTlsServer::tls(), /*client_auth=*/true);
  ASSERT_NE(server, nullptr);
  auto without = OpenBackend(server->Uri("?" + server->TlsQuery()));
  EXPECT_EQ(without.status().code(), Code::kUnavailable);
  ExpectOneLine(without.status(), "TLS to ZooKeeper at " + server->HostPort() + " failed");
  ExpectOneLine(without.status(), "client certificate");
  auto with = Open(server->Uri("/certs?" + server->TlsQuery(/*client_cert=*/true)));
  ASSERT_NE(with, nullptr);
  auto lease = with->TryAcquire(Request("job"));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_TRUE(with->Release(*lease).ok());
}

TEST(ZkTlsTest, APlainClientAtTheTlsPortSaysItMayBeATlsPort) {
  auto plain = OpenBackend(SharedTlsServer::get()->Uri("?connect_timeout=1s"));
  EXPECT_EQ(plain.status().code(), Code::kUnavailable);
  ExpectOneLine(plain.status(), "did not answer the ZooKeeper handshake");
  ExpectOneLine(plain.status(), "tls=true");
}

TEST(ZkTlsTest, BadTlsOptionsAreInvalidArguments) {
  TempDir dir;
  const std::string not_pem = (dir.path() / "not.pem").string();
  std::ofstream(not_pem) << "not a certificate\n";
  const TlsFiles& tls = SharedTlsServer::tls();
  const std::string base = "zk://127.0.0.1:1?";
  for (const std::string& query : std::vector<std::string>{
           "tls=yes", "cacert=" + tls.ca_cert.string(), "tls=false&cacert=" + tls.ca_cert.string(),
           "tls=true&cacert=/nonexistent/ca.crt", "tls=true&cert=" + tls.client_cert.string(),
           "tls=true&key=" + tls.client_key.string(),
           "tls=true&cacert=", "tls=true&cacert=" + not_pem,
           "tls=true&cert=" + tls.client_cert.string() + "&key=" + tls.server_key.string()}) {
    auto backend = OpenBackend(base + query);
    EXPECT_EQ(backend.status().code(), Code::kInvalidArgument) << query;
    EXPECT_EQ(backend.status().message().find('\n'), std::string::npos) << query;
  }
  auto missing = OpenBackend(base + "tls=true&cacert=/nonexistent/ca.crt");
  ExpectOneLine(missing.status(), "/nonexistent/ca.crt");
}

TEST(ZkTlsTest, TheBridgeRefusesAnotherProcess) {
  ZooKeeperOptions options;
  options.hosts = SharedTlsServer::get()->HostPort();
  options.tls = true;
  options.cacert = SharedTlsServer::tls().ca_cert.string();
  auto bridge = zk::TlsBridge::Start(options);
  ASSERT_TRUE(bridge.ok()) << bridge.status().ToString();
  const std::string local = (*bridge)->local_hosts();
  const std::string port = local.substr(local.rfind(':') + 1);
  // Another process connects and sends a ZooKeeper four-letter word: closed unanswered
  // (with those bytes unread, the socket may be reset rather than ended). Exit 0 if so.
  EXPECT_TRUE(
      RunQuiet("python3 -c \"import socket, sys\n"
               "s = socket.create_connection(('127.0.0.1', " +
               port +
               "))\n"
               "s.sendall(b'srvr')\n"
               "try:\n    sys.exit(3 if s.recv(100) else 0)\n"
               "except ConnectionResetError:\n    sys.exit(0)\""));
  EXPECT_EQ((*bridge)->refused(), 1u);
  // This process is served: the same word reaches the server over TLS.
  EXPECT_NE(TcpExchange(static_cast<std::uint16_t>(std::stoi(port)), "srvr").find("Mode:"),
            std::string::npos);
  EXPECT_EQ((*bridge)->refused(), 1u);
}

}  // namespace
}  // namespace dlock::test
