#include "integration/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "test_util.h"

namespace dlock::test {
namespace {

int ConnectLoopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

bool RunQuiet(const std::string& command) {
  int rc = std::system((command + " >/dev/null 2>&1").c_str());
  return rc == 0;
}

bool TlsFiles::Make(const std::filesystem::path& dir, const std::string& ca_name) {
  std::filesystem::create_directories(dir);
  ca_cert = dir / "ca.crt";
  server_cert = dir / "server.crt";
  server_key = dir / "server.key";
  client_cert = dir / "client.crt";
  client_key = dir / "client.key";
  auto d = dir.string();
  std::ofstream(dir / "san.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
  bool ok =
      RunQuiet(
          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
          "-keyout " +
          d + "/ca.key -out " + d + "/ca.crt -days 2 -subj /CN=" + ca_name) &&
      RunQuiet("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + d +
               "/server.key -out " + d + "/server.csr -subj /CN=localhost") &&
      RunQuiet("openssl x509 -req -in " + d + "/server.csr -CA " + d + "/ca.crt -CAkey " + d +
               "/ca.key -CAcreateserial -out " + d + "/server.crt -days 2 -extfile " + d +
               "/san.ext") &&
      RunQuiet("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + d +
               "/client.key -out " + d + "/client.csr -subj /CN=dlock-client") &&
      RunQuiet("openssl x509 -req -in " + d + "/client.csr -CA " + d + "/ca.crt -CAkey " + d +
               "/ca.key -CAcreateserial -out " + d + "/client.crt -days 2");
  if (!ok) ADD_FAILURE() << "openssl could not make test certificates in " << d;
  return ok;
}

std::string CommandOutput(const std::string& command, int* exit_code) {
  std::string out;
  int status = -1;
  if (FILE* p = ::popen(command.c_str(), "r")) {
    std::array<char, 4096> buf{};
    std::size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    status = ::pclose(p);
  }
  if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

std::uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::uint16_t ClosedPort() {
  // Without SO_REUSEADDR, so that a server's bind with it fails too; the descriptor is
  // deliberately kept open for the rest of the process.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "could not bind a loopback port";
    return 0;
  }
  return ntohs(addr.sin_port);
}

bool PortAccepts(std::uint16_t port) {
  int fd = ConnectLoopback(port);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

std::string TcpExchange(std::uint16_t port, const std::string& request) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    std::array<char, 4096> buf{};
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) out.append(buf.data(), n);
  }
  ::close(fd);
  return out;
}

pid_t SpawnServer(const std::vector<std::string>& args, const std::string& log,
                  const std::function<bool()>& ready, const std::string& package,
                  const std::function<bool()>& in_child) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    if (in_child && !in_child()) ::_exit(126);
    ::execvp(argv[0], argv.data());
    std::perror("exec");
    ::_exit(127);
  }
  bool exited = false;
  bool up = WaitFor(
      [&] {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
          exited = true;
          return true;
        }
        return ready();
      },
      std::chrono::seconds(20));
  if (!up || exited) {
    if (!exited) KillServer(pid);
    ADD_FAILURE() << args[0] << " did not start (log: " << log << "; is the " << package
                  << " package installed? scripts/install-deps.sh --test)";
    return -1;
  }
  return pid;
}

void KillServer(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGCONT);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  pid = -1;
}

}  // namespace dlock::test
