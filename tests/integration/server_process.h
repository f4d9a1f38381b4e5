// server_process.h: starting and stopping the real servers of the integration tests
// (redis-server, ZooKeeper, etcd): free loopback ports, fork+exec, readiness, stop by PID.
#ifndef DLOCK_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define DLOCK_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace dlock::test {

// A CA and a server certificate for 127.0.0.1/localhost, made with the openssl tool.
struct TlsFiles {
  std::filesystem::path ca_cert, server_cert, server_key, client_cert, client_key;
  // Makes them under `dir`; false (with a test failure) if openssl fails.
  bool Make(const std::filesystem::path& dir, const std::string& ca_name);
};

// Runs `command` with /bin/sh, its output discarded; true if it exited 0.
bool RunQuiet(const std::string& command);

// A free TCP port on 127.0.0.1 (bound and released; a small race is accepted).
std::uint16_t FreePort();

// A TCP port on 127.0.0.1 that stays bound by this process, never listened on, until
// the process exits: connecting to it is refused, and no server of a test running in
// parallel can take it (which a FreePort() left unused can race into).
std::uint16_t ClosedPort();

// Whether something accepts TCP connections on 127.0.0.1:`port`.
bool PortAccepts(std::uint16_t port);

// Sends `request` to 127.0.0.1:`port` and returns everything read until the peer closes
// (empty if it cannot connect): for ZooKeeper's four-letter words.
std::string TcpExchange(std::uint16_t port, const std::string& request);

// Runs `command` with /bin/sh and returns what it wrote to stdout; *exit_code (if given)
// gets its exit status (-1 if it did not exit normally or could not run).
std::string CommandOutput(const std::string& command, int* exit_code = nullptr);

// Forks and execs `args` (args[0] looked up in PATH; output to `log`) and waits up to
// 20 s for `ready`. Returns the pid, or -1 after ADD_FAILURE naming `package` if the
// program exited or never became ready. `in_child`, if given, runs in the child just
// before the exec (a new directory, another user): async-signal-safe calls only, and
// false if the child must not exec (it exits with 126).
pid_t SpawnServer(const std::vector<std::string>& args, const std::string& log,
                  const std::function<bool()>& ready, const std::string& package,
                  const std::function<bool()>& in_child = {});

// SIGCONT (in case it was paused), SIGKILL and reap; sets `pid` to -1. No-op if <= 0.
void KillServer(pid_t& pid);

}  // namespace dlock::test

#endif  // DLOCK_TESTS_INTEGRATION_SERVER_PROCESS_H_
