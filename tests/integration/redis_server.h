// redis_server.h: a real redis-server for integration tests, started on a free loopback
// port with its own directory, stopped by PID. A missing redis-server fails the test.
#ifndef DLOCK_TESTS_INTEGRATION_REDIS_SERVER_H_
#define DLOCK_TESTS_INTEGRATION_REDIS_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "integration/server_process.h"

namespace dlock::test {

class RedisServer {
 public:
  // Starts redis-server with `extra_args`; with `tls`, only a TLS port. Returns null
  // after ADD_FAILURE if it cannot start.
  // `client_auth`: the TLS server also requires a client certificate from its CA.
  static std::unique_ptr<RedisServer> Start(std::vector<std::string> extra_args = {},
                                            const TlsFiles* tls = nullptr,
                                            bool client_auth = false);
  ~RedisServer();

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // "redis://127.0.0.1:PORT" (or rediss://) with `userinfo@` and `suffix` if given.
  std::string Uri(const std::string& userinfo = "", const std::string& suffix = "") const;

  void Pause();   // SIGSTOP: the kernel still accepts connections
  void Resume();  // SIGCONT
  void Stop();    // SIGKILL and reap
  // Starts again on the same port (an empty instance, as after a restart without
  // persistence). false (with a test failure) if it cannot.
  bool Restart();

  // Runs redis-cli against this server; returns its stdout.
  std::string Cli(const std::vector<std::string>& args) const;

 private:
  RedisServer() = default;
  bool Launch();  // starts args_; waits until the port accepts
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  bool tls_ = false;
  std::filesystem::path dir_;
  std::vector<std::string> cli_auth_;
};

}  // namespace dlock::test

#endif  // DLOCK_TESTS_INTEGRATION_REDIS_SERVER_H_
