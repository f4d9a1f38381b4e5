// zk_server.h: a real standalone ZooKeeper (Debian's `zookeeper` package) for integration
// tests, on a free loopback port with its own data directory, stopped by PID. A missing
// ZooKeeper fails the test.
//
// With TLS, the server is TLS-only: a secureClientPort and no clientPort, on Netty
// (NettyServerCnxnFactory, with Debian's netty jars), with a PKCS12 key store of
// tls->server_cert (made with openssl pkcs12) and a PKCS12 trust store of tls->ca_cert
// (made with keytool); `client_auth` makes it refuse clients without a certificate of
// that CA (ssl.clientAuth=need, else none).
#ifndef DLOCK_TESTS_INTEGRATION_ZK_SERVER_H_
#define DLOCK_TESTS_INTEGRATION_ZK_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "integration/server_process.h"

namespace dlock::test {

class ZkServer {
 public:
  // tickTime 500 ms; sessions from 1 s to 30 s. Null after ADD_FAILURE if it cannot start.
  static std::unique_ptr<ZkServer> Start(const TlsFiles* tls = nullptr, bool client_auth = false);
  ~ZkServer();

  std::uint16_t port() const { return port_; }
  // "zk://127.0.0.1:PORT" + `suffix` (a path and options).
  std::string Uri(const std::string& suffix = "") const;
  std::string HostPort() const;
  // With TLS: "tls=true&cacert=CA" and, with `client_cert`, "&cert=...&key=...".
  std::string TlsQuery(bool client_cert = false) const;

  void Stop();  // SIGKILL and reap; the data directory stays
  // Starts again on the same port and data: sessions younger than their timeout live
  // on. false (with a test failure) if it cannot.
  bool Restart();

 private:
  ZkServer() = default;
  bool Launch();
  bool Ready() const;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::filesystem::path dir_;
  std::optional<TlsFiles> tls_;
};

}  // namespace dlock::test

#endif  // DLOCK_TESTS_INTEGRATION_ZK_SERVER_H_
