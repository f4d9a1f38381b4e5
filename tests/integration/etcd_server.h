// etcd_server.h: a real single-member etcd (Debian's etcd-server) for integration tests,
// on free loopback ports with its own data directory, stopped by PID. A missing etcd
// fails the test.
#ifndef DLOCK_TESTS_INTEGRATION_ETCD_SERVER_H_
#define DLOCK_TESTS_INTEGRATION_ETCD_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "integration/server_process.h"

namespace dlock::test {

class EtcdServer {
 public:
  // With `tls`, clients must speak TLS and can verify the server against tls->ca_cert.
  // Null after ADD_FAILURE if it cannot start.
  static std::unique_ptr<EtcdServer> Start(const TlsFiles* tls = nullptr);
  ~EtcdServer();

  std::uint16_t port() const { return port_; }
  std::string Endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  // "etcd://" + userinfo@ + endpoint + suffix.
  std::string Uri(const std::string& userinfo = "", const std::string& suffix = "") const;

  // Runs etcdctl (API v3) against this server with `args`; returns its exit status and
  // fills `out` with stdout and stderr.
  int Ctl(const std::vector<std::string>& args, std::string* out = nullptr) const;

  void Stop();     // SIGKILL and reap; the data directory stays
  bool Restart();  // the same ports and data

 private:
  EtcdServer() = default;
  bool Launch();
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t peer_port_ = 0;
  std::filesystem::path dir_;
  std::optional<TlsFiles> tls_;
};

}  // namespace dlock::test

#endif  // DLOCK_TESTS_INTEGRATION_ETCD_SERVER_H_
