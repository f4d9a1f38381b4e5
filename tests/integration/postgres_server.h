// postgres_server.h: a real PostgreSQL (Debian's postgresql-15) for integration tests:
// a fresh cluster (initdb) in its own temporary directory, the postmaster started
// directly on a free loopback port and stopped by PID, the directory removed at the end.
// A missing PostgreSQL fails the test.
//
// initdb and postgres refuse to run as root. When the tests run as root, both run as the
// system user dlock-test (scripts/install-deps.sh --test adds it; Start adds it with
// useradd if it is missing), in a directory given to that user; otherwise as the user
// running the tests.
#ifndef DLOCK_TESTS_INTEGRATION_POSTGRES_SERVER_H_
#define DLOCK_TESTS_INTEGRATION_POSTGRES_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace dlock::test {

class PostgresServer {
 public:
  // The cluster's superuser and its password. Over TCP the server asks for the password
  // (scram-sha-256); on its Unix socket, in the server's directory, it trusts.
  static constexpr const char* kUser = "dlock";
  static constexpr const char* kPassword = "fence-test-pw";

  // initdb and start; null after ADD_FAILURE if either fails.
  static std::unique_ptr<PostgresServer> Start();
  ~PostgresServer();

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // "host=127.0.0.1 port=PORT user=dlock password=PASSWORD dbname=postgres"
  std::string ConnInfo(const std::string& password = kPassword) const;
  // "postgres://dlock:PASSWORD@127.0.0.1:PORT/postgres"
  std::string Uri() const;

  // SIGSTOP the postmaster: the kernel still accepts connections, which then get no
  // answer; sessions already open go on (their processes are not stopped).
  void Pause();
  void Resume();  // SIGCONT
  // Fast shutdown (SIGINT) and reap; SIGKILL if it is not down within 10 s. The data
  // directory stays until the destructor.
  void Stop();
  // Starts again on the same port and data. false (with a test failure) if it cannot.
  bool Restart();

 private:
  PostgresServer() = default;
  bool Prepare();  // the directory, its owner, initdb
  bool Launch();   // the postmaster; waits until it accepts connections
  // Runs in the forked child before exec: the server's directory, and its user.
  bool EnterChild() const;

  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::filesystem::path dir_;
  std::filesystem::path bin_;
  bool switch_user_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace dlock::test

#endif  // DLOCK_TESTS_INTEGRATION_POSTGRES_SERVER_H_
