#include "integration/postgres_server.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "integration/server_process.h"
#include "test_util.h"

namespace dlock::test {
namespace {

constexpr const char* kTestUser = "dlock-test";

// The bin directory of the newest PostgreSQL under /usr/lib/postgresql (Debian's layout:
// initdb and postgres are not in PATH).
std::filesystem::path FindBinDir() {
  std::filesystem::path best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    char* end = nullptr;
    long version = std::strtol(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '\0') continue;
    if (!std::filesystem::exists(entry.path() / "bin" / "postgres")) continue;
    if (version > best_version) {
      best_version = static_cast<int>(version);
      best = entry.path() / "bin";
    }
  }
  return best;
}

std::string Tail(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

}  // namespace

std::unique_ptr<PostgresServer> PostgresServer::Start() {
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  if (!server->Prepare() || !server->Launch()) return nullptr;
  return server;
}

bool PostgresServer::EnterChild() const {
  if (::chdir(dir_.c_str()) != 0) return false;
  if (!switch_user_) return true;
  return ::setgroups(0, nullptr) == 0 && ::setgid(gid_) == 0 && ::setuid(uid_) == 0;
}

bool PostgresServer::Prepare() {
  bin_ = FindBinDir();
  if (bin_.empty()) {
    ADD_FAILURE() << "no PostgreSQL under /usr/lib/postgresql: is the postgresql-15 package "
                     "installed? scripts/install-deps.sh --test";
    return false;
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "dlock-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp " << pattern << ": " << std::strerror(errno);
    return false;
  }
  dir_ = pattern;

  if (::geteuid() == 0) {
    // initdb and postgres refuse root: the cluster belongs to an unprivileged user.
    if (::getpwnam(kTestUser) == nullptr) {
      std::system(
          "useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "
          "dlock-test >/dev/null 2>&1");
    }
    const passwd* user = ::getpwnam(kTestUser);
    if (user == nullptr) {
      ADD_FAILURE() << "running as root, and there is no user " << kTestUser
                    << " to run PostgreSQL as (useradd failed; scripts/install-deps.sh --test "
                       "adds it)";
      return false;
    }
    switch_user_ = true;
    uid_ = user->pw_uid;
    gid_ = user->pw_gid;
    if (::chown(dir_.c_str(), uid_, gid_) != 0) {
      ADD_FAILURE() << "chown " << dir_ << ": " << std::strerror(errno);
      return false;
    }
  }
  const auto pwfile = dir_ / "pwfile";
  std::ofstream(pwfile) << kPassword << "\n";
  if (switch_user_ && ::chown(pwfile.c_str(), uid_, gid_) != 0) {
    ADD_FAILURE() << "chown " << pwfile << ": " << std::strerror(errno);
    return false;
  }

  // Trust on the socket (only this user can reach it: the directory is 0700), a password
  // over TCP. No fsync: the cluster lives as long as the test.
  std::vector<std::string> args = {(bin_ / "initdb").string(),
                                   "-D",
                                   (dir_ / "data").string(),
                                   "-U",
                                   kUser,
                                   "--pwfile=" + pwfile.string(),
                                   "--auth-local=trust",
                                   "--auth-host=scram-sha-256",
                                   "--no-sync",
                                   "--encoding=UTF8",
                                   "--locale=C"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = (dir_ / "initdb.log").string();
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out >= 0) {
      ::dup2(out, 1);
      ::dup2(out, 2);
    }
    if (!EnterChild()) ::_exit(126);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = -1;
  bool done =
      WaitFor([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds(60));
  if (!done) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  if (!done || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ADD_FAILURE() << "initdb failed (" << (done ? "exit status " : "timed out, ") << status
                  << "; log " << log << "):\n"
                  << Tail(log);
    return false;
  }
  port_ = FreePort();
  return true;
}

bool PostgresServer::Launch() {
  const std::string port = std::to_string(port_);
  std::vector<std::string> args = {(bin_ / "postgres").string(),
                                   "-D",
                                   (dir_ / "data").string(),
                                   "-p",
                                   port,
                                   "-k",
                                   dir_.string(),
                                   "-c",
                                   "listen_addresses=127.0.0.1",
                                   "-c",
                                   "fsync=off",
                                   "-c",
                                   "synchronous_commit=off",
                                   "-c",
                                   "full_page_writes=off",
                                   "-c",
                                   "max_connections=60"};
  // Ready once it accepts connections (PQping asks, without logging in).
  const std::string ping = "host=127.0.0.1 port=" + port + " connect_timeout=2";
  pid_ = SpawnServer(
      args, (dir_ / "postgres.log").string(), [&] { return PQping(ping.c_str()) == PQPING_OK; },
      "postgresql-15", [this] { return EnterChild(); });
  return pid_ > 0;
}

PostgresServer::~PostgresServer() {
  Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string PostgresServer::ConnInfo(const std::string& password) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + kUser +
         " password=" + password + " dbname=postgres";
}

std::string PostgresServer::Uri() const {
  return std::string("postgres://") + kUser + ":" + kPassword +
         "@127.0.0.1:" + std::to_string(port_) + "/postgres";
}

bool PostgresServer::Restart() {
  Stop();
  return Launch();
}

void PostgresServer::Pause() { ::kill(pid_, SIGSTOP); }
void PostgresServer::Resume() { ::kill(pid_, SIGCONT); }

void PostgresServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGINT);  // fast shutdown: ends the sessions, then the postmaster exits
  if (WaitFor([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; },
              std::chrono::seconds(10))) {
    pid_ = -1;
    return;
  }
  KillServer(pid_);
}

}  // namespace dlock::test
