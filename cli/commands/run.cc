// dlock run NAME [NAME...] [--ttl D] [--wait D] [--grace D] -- CMD [ARGS...]
//
// Waits for the lock (several names: all of them, all-or-nothing, Locker::AcquireAll), runs CMD in
// its own process group with DLOCK_* in its environment, renews the lock while CMD runs, forwards
// signals to CMD, releases when CMD exits, and exits with CMD's status. If the lock is lost, CMD's
// process group gets SIGTERM, then SIGKILL after --grace, and dlock exits 76. If dlock itself dies
// (kill -9), a watcher process does the same to the group (see Watcher).
//
// One thread (this one) waits on a signalfd and an eventfd: the eventfd is written when
// the acquiring thread finishes and when the Lock's lost() fires.
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/cli_context.h"
#include "cli/commands/commands.h"
#include "cli/exit_codes.h"
#include "dlock/duration.h"
#include "dlock/locker.h"

extern char** environ;

namespace dlock::cli {
namespace {

using Steady = std::chrono::steady_clock;

constexpr std::array kWatchedSignals = {SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
                                        SIGUSR1, SIGUSR2, SIGCHLD};

void Notify(int efd) {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(efd, &one, sizeof one);
}

void Drain(int fd) {
  std::array<char, 64> buf{};
  while (::read(fd, buf.data(), buf.size()) > 0) {
  }
}

// Returns the signal numbers read from the signalfd (non-blocking).
std::vector<int> ReadSignals(int sfd) {
  std::vector<int> out;
  signalfd_siginfo info{};
  while (::read(sfd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    out.push_back(static_cast<int>(info.ssi_signo));
  }
  return out;
}

// Waits until one of the fds is readable or `timeout_ms` passes (-1: no limit).
void PollFds(int sfd, int efd, int timeout_ms) {
  std::array<pollfd, 2> fds{{{sfd, POLLIN, 0}, {efd, POLLIN, 0}}};
  while (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno == EINTR) {
  }
}

// The names of the lock or set, for messages: 'a' or 'a', 'b'.
std::string Quoted(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += fmt::format("{}'{}'", out.empty() ? "" : ", ", name);
  return out;
}

// The status line a waiting `run` shows on a terminal: of the first name held by another.
void ShowWaiting(Backend& backend, const std::vector<std::string>& names,
                 Steady::time_point start) {
  auto waited = std::chrono::duration<double>(Steady::now() - start).count();
  std::string name = names.front();
  std::string who = "another owner";
  for (const auto& candidate : names) {
    auto state = backend.Inspect(candidate);
    if (state.ok() && state->held) {
      name = candidate;
      who = fmt::format("host {} pid {} (token {}, {:.1f}s of TTL left)", state->holder.host,
                        state->holder.pid, state->token,
                        static_cast<double>(state->remaining.count()) / 1000.0);
      break;
    }
  }
  std::string line =
      fmt::format("\rdlock: waiting for '{}', held by {}; waited {:.0f}s\033[K", name, who, waited);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

// The child's environment: ours, with DLOCK_* replaced. DLOCK_NAME, DLOCK_FENCING_TOKEN
// and DLOCK_OWNER are of the first name given; DLOCK_FENCING_TOKENS has one line
// NAME=TOKEN per name, in the order given (a name has no control character, so no newline;
// its token is what follows the last '=').
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& names,
                                          const MultiLock& set, const std::string& backend) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.starts_with("DLOCK_NAME=") || entry.starts_with("DLOCK_FENCING_TOKEN=") ||
        entry.starts_with("DLOCK_FENCING_TOKENS=") || entry.starts_with("DLOCK_OWNER=") ||
        entry.starts_with("DLOCK_BACKEND=")) {
      continue;
    }
    env.emplace_back(entry);
  }
  std::string tokens;
  for (const auto& name : names) {
    tokens += fmt::format("{}{}={}", tokens.empty() ? "" : "\n", name, set.token(name));
  }
  const Lease first = set.lock(names.front())->lease();
  env.push_back("DLOCK_NAME=" + first.name);
  env.push_back(fmt::format("DLOCK_FENCING_TOKEN={}", first.token));
  env.push_back("DLOCK_FENCING_TOKENS=" + tokens);
  env.push_back("DLOCK_OWNER=" + first.owner_id);
  env.push_back("DLOCK_BACKEND=" + backend);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Whether a process of group `pgid` still runs. kill(-pgid, 0) alone counts zombies too,
// which an init that reaps slowly can leave for seconds (the command's processes are
// orphans once dlock is gone).
bool GroupRuns(pid_t pgid) {
  if (::kill(-pgid, 0) != 0) return false;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string pid = entry.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream file(entry.path() / "stat");
    const std::string stat{std::istreambuf_iterator<char>(file), {}};
    const auto name_end = stat.rfind(')');  // the name, in parentheses, may hold anything
    if (name_end == std::string::npos) continue;
    std::istringstream fields(stat.substr(name_end + 1));
    char state = 0;
    long ppid = 0;
    long group = 0;
    if (fields >> state >> ppid >> group && group == pgid && state != 'Z' && state != 'X') {
      return true;
    }
  }
  return static_cast<bool>(error);  // no /proc: as kill() said
}

// The watcher stops the command's process group when dlock dies without doing it (kill
// -9, a crash): SIGTERM, then SIGKILL after --grace to what is left of the group.
//
// It is a child of dlock forked before any thread starts, so it may run any code; it
// never returns, it _exits. It stays in dlock's process group, never in the command's,
// and keeps dlock's signal mask: the signals dlock forwards do not kill it. It blocks
// reading a socket whose other end only dlock holds (close-on-exec: the command never
// inherits it). dlock sends it the command's process group id once the group exists;
// end of file means that dlock is gone. When all goes well, dlock kills and reaps it
// before reaping the command: the group id cannot be reused while its leader is an
// unreaped zombie, so the watcher never signals a group that is not the command's.
class Watcher {
 public:
  Watcher() = default;
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;
  ~Watcher() { Stop(); }

  // Forks the watcher; `grace` is --grace.
  Status Start(std::chrono::milliseconds grace) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
      return InternalError(fmt::format("cannot start the watcher: {}", std::strerror(errno)));
    }
    const pid_t dlock = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
      int err = errno;
      ::close(fds[0]);
      ::close(fds[1]);
      return InternalError(fmt::format("cannot start the watcher: {}", std::strerror(err)));
    }
    if (pid == 0) {
      ::close(fds[0]);
      WatchOver(fds[1], dlock, grace);
    }
    ::close(fds[1]);
    pid_ = pid;
    fd_ = fds[0];
    return OkStatus();
  }

  // From now on, if dlock dies, the watcher stops process group `pgid`.
  void Watch(pid_t pgid) {
    if (fd_ >= 0) {
      [[maybe_unused]] auto n = ::send(fd_, &pgid, sizeof pgid, MSG_NOSIGNAL);
    }
  }

  // Ends the watcher, and reaps it, so that it signals nothing from now on. Closing the
  // socket first would tell it that dlock is gone.
  void Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  // The watcher's life: waits for dlock to go, then stops the group it was told of.
  [[noreturn]] static void WatchOver(int fd, pid_t dlock, std::chrono::milliseconds grace) {
    ::prctl(PR_SET_NAME, "dlock watcher");
    ::signal(SIGPIPE, SIG_IGN);  // a closed stderr must not end it before its SIGKILL
    // Nothing of dlock's but stderr, for its messages, and the socket.
    if (int null = ::open("/dev/null", O_RDWR); null >= 0) {
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
      if (null > STDERR_FILENO) ::close(null);
    }
    if (fd > STDERR_FILENO + 1) ::close_range(STDERR_FILENO + 1, fd - 1, 0);
    ::close_range(fd + 1, ~0U, 0);

    pid_t pgid = 0;
    while (true) {
      pid_t message = 0;
      ssize_t n = ::recv(fd, &message, sizeof message, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n != static_cast<ssize_t>(sizeof message)) break;  // 0: end of file, dlock is gone
      pgid = message;
    }
    if (pgid <= 0 || ::kill(-pgid, SIGTERM) != 0) ::_exit(0);
    PrintError(fmt::format("dlock (pid {}) is gone; sent SIGTERM to the command's process group {}",
                           dlock, pgid));
    const auto kill_at = Steady::now() + grace;
    while (Steady::now() < kill_at) {
      if (!GroupRuns(pgid)) ::_exit(0);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (GroupRuns(pgid) && ::kill(-pgid, SIGKILL) == 0) {
      PrintError(fmt::format("the command's process group {} did not stop within {}; sent SIGKILL",
                             pgid, FormatDuration(grace)));
    }
    ::_exit(0);
  }

  pid_t pid_ = -1;  // the watcher, until reaped
  int fd_ = -1;     // dlock's end of the socket
};

struct Child {
  pid_t pid = -1;
  int exec_errno = 0;  // set if exec failed
};

// Forks and execs the command in its own process group, which gets the terminal if we
// have it, and which the watcher watches at once. Everything the child needs is prepared
// before fork (we have threads).
Child Spawn(std::vector<std::string> command, std::vector<std::string> env,
            const sigset_t& original_mask, bool foreground, Watcher& watcher) {
  auto argv = CStrings(command);
  auto envp = CStrings(env);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return {-1, errno};
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return {-1, err};
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    if (foreground) ::tcsetpgrp(STDIN_FILENO, ::getpid());  // SIGTTOU is blocked here
    // If dlock dies (kill -9), the watcher stops the whole group; this process also gets
    // SIGTERM from the kernel, in case the watcher died too (a SIGKILL to dlock's group).
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(kExitLost);
    ::pthread_sigmask(SIG_SETMASK, &original_mask, nullptr);
    ::execvpe(argv[0], argv.data(), envp.data());
    int err = errno;
    [[maybe_unused]] auto n = ::write(pipefd[1], &err, sizeof err);
    ::_exit(err == ENOENT ? kExitCommandNotFound : kExitCannotExecute);
  }
  ::setpgid(pid, pid);  // also here, so that the group exists before we signal it
  watcher.Watch(pid);
  if (foreground) ::tcsetpgrp(STDIN_FILENO, pid);
  ::close(pipefd[1]);
  int err = 0;
  ssize_t n;
  while ((n = ::read(pipefd[0], &err, sizeof err)) < 0 && errno == EINTR) {
  }
  ::close(pipefd[0]);
  return {pid, n == static_cast<ssize_t>(sizeof err) ? err : 0};
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return kExitSoftware;
}

// The durations of `dlock run`, parsed.
struct RunTimes {
  std::chrono::milliseconds ttl;
  std::chrono::milliseconds wait;
  std::chrono::milliseconds grace;
};

// Parses and checks the arguments, in the order their errors are reported.
Result<RunTimes> ParseRunArgs(const RunArgs& args) {
  auto ttl = ParseDurationOption("--ttl", args.ttl);
  if (!ttl.ok()) return ttl.status();
  auto wait = ParseDurationOption("--wait", args.wait);
  if (!wait.ok()) return wait.status();
  auto grace = ParseDurationOption("--grace", args.grace);
  if (!grace.ok()) return grace.status();
  if (args.command.empty()) {
    return InvalidArgumentError("missing command: use dlock run NAME [options] -- CMD [ARGS]");
  }
  for (const auto& name : args.names) {
    if (Status s = ValidateName(name); !s.ok()) return s;
  }
  if (Status s = ValidateTtl(*ttl); !s.ok()) return s;
  return RunTimes{*ttl, *wait, *grace};
}

// What wakes this thread: the signals it handles, and an eventfd.
struct Wakeups {
  int sfd = -1;         // signalfd of kWatchedSignals
  int efd = -1;         // eventfd, see the top of the file
  sigset_t original{};  // the signal mask before, for the command
};

// Blocks the signals we handle before any thread exists, so that every thread inherits
// the mask and only the signalfd sees them. SIGTTOU is blocked so that we can take the
// terminal back from the child's process group.
Result<Wakeups> WatchSignals() {
  sigset_t watched;
  sigemptyset(&watched);
  for (int sig : kWatchedSignals) sigaddset(&watched, sig);
  sigset_t blocked = watched;
  sigaddset(&blocked, SIGTTOU);
  Wakeups w;
  ::pthread_sigmask(SIG_BLOCK, &blocked, &w.original);
  w.sfd = ::signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK);
  w.efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w.sfd < 0 || w.efd < 0) {
    return InternalError(fmt::format("signalfd/eventfd: {}", std::strerror(errno)));
  }
  return w;
}

// The end of the wait for the lock: the Locker's answer, and the signal (SIGINT,
// SIGTERM...) that came meanwhile and cancelled the wait, if one did.
struct Acquired {
  Result<MultiLock> lock;
  int stop_signal = 0;
};

// Acquires on a helper thread; this thread watches signals and, on a terminal, shows
// who holds the lock once the wait has lasted a second.
Acquired AcquireWatchingSignals(Locker& locker, Backend& backend,
                                const std::vector<std::string>& names,
                                std::chrono::milliseconds wait, const Wakeups& w) {
  std::stop_source cancel;
  std::optional<Result<MultiLock>> acquired;
  const auto start = Steady::now();
  std::jthread acquirer([&] {
    acquired.emplace(locker.AcquireAll(names, {.wait = wait, .stop = cancel.get_token()}));
    Notify(w.efd);
  });
  const bool show = ::isatty(STDERR_FILENO) && wait.count() > 0;
  bool shown = false;
  int stop_signal = 0;
  while (true) {
    PollFds(w.sfd, w.efd, show ? 1000 : -1);
    for (int sig : ReadSignals(w.sfd)) {
      if (sig != SIGCHLD && sig != SIGUSR1 && sig != SIGUSR2) {
        stop_signal = sig;
        cancel.request_stop();
      }
    }
    std::uint64_t done = 0;
    if (::read(w.efd, &done, sizeof done) > 0) break;
    if (show && Steady::now() - start >= std::chrono::seconds(1)) {
      ShowWaiting(backend, names, start);
      shown = true;
    }
  }
  acquirer.join();
  if (shown) std::fputs("\r\033[K", stderr);
  return {std::move(*acquired), stop_signal};
}

// The command, running: its pid (also its process group's), and whether it has the
// terminal. `failed` is the exit code instead when it could not be run.
struct Running {
  pid_t pid = -1;
  bool foreground = false;
  int failed = 0;
};

// Starts the command with the lease in its environment, in the foreground if dlock is,
// watched by `watcher`. If it cannot be run, releases the lock and says why.
Running StartCommand(const std::vector<std::string>& command, const std::vector<std::string>& names,
                     MultiLock& lock, const std::string& backend_redacted, const sigset_t& original,
                     Watcher& watcher) {
  const bool foreground = ::isatty(STDIN_FILENO) && ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();
  Child child = Spawn(command, ChildEnvironment(names, lock, backend_redacted), original,
                      foreground, watcher);
  if (child.exec_errno != 0) {
    watcher.Stop();  // before the reaping, see Watcher
    if (child.pid > 0) ::waitpid(child.pid, nullptr, 0);
    if (foreground) ::tcsetpgrp(STDIN_FILENO, ::getpgrp());
    lock.Release().IgnoreError();
    PrintError(fmt::format("cannot run '{}': {}", command[0], std::strerror(child.exec_errno)));
    return {.failed = child.exec_errno == ENOENT ? kExitCommandNotFound : kExitCannotExecute};
  }
  return {.pid = child.pid, .foreground = foreground};
}

// Ctrl-Z: take the terminal back and stop too, so the shell sees the job stopped; on
// `fg` (SIGCONT) hand the terminal back and continue the command. While stopped,
// nothing renews the lock: it may be lost when we resume.
void StopWithTheCommand(pid_t pid) {
  ::tcsetpgrp(STDIN_FILENO, ::getpgrp());
  ::raise(SIGSTOP);
  ::tcsetpgrp(STDIN_FILENO, pid);
  ::kill(-pid, SIGCONT);
}

// Handles the signals that came: on SIGCHLD, follows the command into a stop, or sees
// that it exited and leaves it unreaped (see Watcher); forwards every other signal to
// its process group. Returns true once the command has exited.
bool HandleSignals(int sfd, const Running& child) {
  bool exited = false;
  for (int sig : ReadSignals(sfd)) {
    if (sig != SIGCHLD) {
      ::kill(-child.pid, sig);
      continue;
    }
    while (!exited) {
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(child.pid), &info,
                   WEXITED | WSTOPPED | WNOHANG | WNOWAIT) != 0 ||
          info.si_pid != child.pid) {
        break;
      }
      if (info.si_code != CLD_STOPPED) {
        exited = true;
      } else {
        ::waitid(P_PID, static_cast<id_t>(child.pid), &info, WSTOPPED | WNOHANG);  // seen
        if (child.foreground) StopWithTheCommand(child.pid);
      }
    }
  }
  return exited;
}

// Reaps the command, which has exited; returns its wait status.
int Reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// How the command's run ended.
struct Supervised {
  int wait_status = 0;        // once it is reaped
  bool lost = false;          // the lock was lost while it ran, and it got SIGTERM
  bool kill_pending = false;  // SIGKILL at kill_at unless the command exits first
  Steady::time_point kill_at{};
};

// The poll timeout in milliseconds: until the SIGKILL that is due, if one is.
int PollTimeout(const Supervised& s) {
  if (!s.kill_pending) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(s.kill_at - Steady::now());
  return static_cast<int>(std::max<std::int64_t>(0, left.count()));
}

// Once the lock is lost: SIGTERM to the command at once, SIGKILL after --grace.
void EnforceLoss(MultiLock& lock, const std::string& name, std::chrono::milliseconds grace,
                 pid_t pid, Supervised& s) {
  if (!s.lost && lock.lost().stop_requested()) {
    s.lost = true;
    PrintError(fmt::format("lost the lock {}: {}; sending SIGTERM to the command", name,
                           lock.lost_reason().message()));
    ::kill(-pid, SIGTERM);
    s.kill_at = Steady::now() + grace;
    s.kill_pending = true;
  }
  if (s.kill_pending && Steady::now() >= s.kill_at) {
    PrintError(
        fmt::format("the command did not stop within {}; sending SIGKILL", FormatDuration(grace)));
    ::kill(-pid, SIGKILL);
    s.kill_pending = false;
  }
}

// Until the command exits: forwards signals to it and enforces a loss of the lock. The
// command is left unreaped.
Supervised Supervise(const Running& child, MultiLock& lock, const std::string& name,
                     std::chrono::milliseconds grace, const Wakeups& w) {
  std::stop_callback on_lost(lock.lost(), [efd = w.efd] { Notify(efd); });
  Supervised s;
  while (true) {
    PollFds(w.sfd, w.efd, PollTimeout(s));
    if (HandleSignals(w.sfd, child)) break;
    Drain(w.efd);
    EnforceLoss(lock, name, grace, child.pid, s);
  }
  if (child.foreground) ::tcsetpgrp(STDIN_FILENO, ::getpgrp());
  return s;
}

// After a loss, the leader is gone, but others of its process group may still run
// without the lock: gives them the rest of the grace period, then SIGKILLs the group.
void KillTheRestOfTheGroup(pid_t pid, const Supervised& s) {
  while (s.kill_pending && Steady::now() < s.kill_at && ::kill(-pid, 0) == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(-pid, SIGKILL);
}

// The exit code once the command has exited: 76 if the lock was lost meanwhile (said
// here if it was not said before), else the command's, after releasing the lock.
int ReleaseAndReport(MultiLock& lock, const std::string& name, const Supervised& s) {
  if (s.lost || lock.lost().stop_requested()) {
    if (!s.lost) {
      PrintError(fmt::format("lost the lock {} while the command ran: {}", name,
                             lock.lost_reason().message()));
    }
    return kExitLost;
  }
  if (Status status = lock.Release(); !status.ok()) {
    PrintError(fmt::format("warning: releasing {} failed ({}); it frees when its TTL passes", name,
                           status.message()));
  }
  return ExitCodeOf(s.wait_status);
}

}  // namespace

int RunCommand(const Globals& globals, const RunArgs& args) {
  auto times = ParseRunArgs(args);
  if (!times.ok()) return Fail(times.status());
  auto wakeups = WatchSignals();
  if (!wakeups.ok()) return Fail(wakeups.status());
  Watcher watcher;  // now, while dlock has one thread, and with the signals blocked
  if (Status s = watcher.Start(times->grace); !s.ok()) return Fail(s);
  auto ctx = OpenContext(globals);
  if (!ctx.ok()) return Fail(ctx.status());
  Locker locker(ctx->backend, {.ttl = times->ttl, .listener = ctx->listener});

  Acquired acquired =
      AcquireWatchingSignals(locker, *ctx->backend, args.names, times->wait, *wakeups);
  if (!acquired.lock.ok()) {
    if (acquired.stop_signal != 0) return 128 + acquired.stop_signal;
    return Fail(acquired.lock.status());
  }
  MultiLock lock = std::move(acquired.lock).value();
  const std::string quoted = Quoted(args.names);
  if (acquired.stop_signal != 0) {
    lock.Release().IgnoreError();
    return 128 + acquired.stop_signal;
  }

  const Running child = StartCommand(args.command, args.names, lock, ctx->backend_redacted,
                                     wakeups->original, watcher);
  if (child.failed != 0) return child.failed;
  Supervised supervised = Supervise(child, lock, quoted, times->grace, *wakeups);
  // The watcher goes before the command is reaped (see Watcher), unless the lock was
  // lost: then it stays until the rest of the group is dealt with, in case dlock dies
  // meanwhile.
  if (!supervised.lost) watcher.Stop();
  supervised.wait_status = Reap(child.pid);
  if (supervised.lost) {
    KillTheRestOfTheGroup(child.pid, supervised);
    watcher.Stop();
  }
  return ReleaseAndReport(lock, quoted, supervised);
}

}  // namespace dlock::cli
