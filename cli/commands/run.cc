// dlock run NAME [--ttl D] [--wait D] [--grace D] -- CMD [ARGS...]
//
// Waits for the lock, runs CMD in its own process group with DLOCK_* in its environment,
// renews the lock while CMD runs, forwards signals to CMD, releases when CMD exits, and
// exits with CMD's status. If the lock is lost, CMD gets SIGTERM, then SIGKILL after
// --grace, and dlock exits 76.
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
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
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

// The status line a waiting `run` shows on a terminal.
void ShowWaiting(Backend& backend, const std::string& name, Steady::time_point start) {
  auto waited = std::chrono::duration<double>(Steady::now() - start).count();
  std::string who = "another owner";
  auto state = backend.Inspect(name);
  if (state.ok() && state->held) {
    who = fmt::format("host {} pid {} (token {}, {:.1f}s of TTL left)", state->holder.host,
                      state->holder.pid, state->token,
                      static_cast<double>(state->remaining.count()) / 1000.0);
  }
  std::string line =
      fmt::format("\rdlock: waiting for '{}', held by {}; waited {:.0f}s\033[K", name, who, waited);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

// The child's environment: ours, with DLOCK_* replaced.
std::vector<std::string> ChildEnvironment(const Lease& lease, const std::string& backend) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.starts_with("DLOCK_NAME=") || entry.starts_with("DLOCK_FENCING_TOKEN=") ||
        entry.starts_with("DLOCK_OWNER=") || entry.starts_with("DLOCK_BACKEND=")) {
      continue;
    }
    env.emplace_back(entry);
  }
  env.push_back("DLOCK_NAME=" + lease.name);
  env.push_back(fmt::format("DLOCK_FENCING_TOKEN={}", lease.token));
  env.push_back("DLOCK_OWNER=" + lease.owner_id);
  env.push_back("DLOCK_BACKEND=" + backend);
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

struct Child {
  pid_t pid = -1;
  int exec_errno = 0;  // set if exec failed
};

// Forks and execs the command in its own process group, which gets the terminal if we
// have it. Everything the child needs is prepared before fork (we have threads).
Child Spawn(std::vector<std::string> command, std::vector<std::string> env,
            const sigset_t& original_mask, bool foreground) {
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
    // If dlock dies (kill -9), the command must not run on without the lock: SIGKILL,
    // as SIGTERM can be ignored. (Only this process gets it, not its descendants.)
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(kExitLost);
    ::pthread_sigmask(SIG_SETMASK, &original_mask, nullptr);
    ::execvpe(argv[0], argv.data(), envp.data());
    int err = errno;
    [[maybe_unused]] auto n = ::write(pipefd[1], &err, sizeof err);
    ::_exit(err == ENOENT ? kExitCommandNotFound : kExitCannotExecute);
  }
  ::setpgid(pid, pid);  // also here, so that the group exists before we signal it
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

}  // namespace

int RunCommand(const Globals& globals, const RunArgs& args) {
  auto ttl = ParseDurationOption("--ttl", args.ttl);
  if (!ttl.ok()) return Fail(ttl.status());
  auto wait = ParseDurationOption("--wait", args.wait);
  if (!wait.ok()) return Fail(wait.status());
  auto grace = ParseDurationOption("--grace", args.grace);
  if (!grace.ok()) return Fail(grace.status());
  if (args.command.empty()) {
    return Fail(
        InvalidArgumentError("missing command: use dlock run NAME [options] -- CMD [ARGS]"));
  }
  if (Status s = ValidateName(args.name); !s.ok()) return Fail(s);
  if (Status s = ValidateTtl(*ttl); !s.ok()) return Fail(s);

  // Block the signals we handle before any thread exists, so that every thread
  // inherits the mask and only the signalfd sees them. SIGTTOU is blocked so that we can
  // take the terminal back from the child's process group.
  sigset_t watched;
  sigemptyset(&watched);
  for (int sig : kWatchedSignals) sigaddset(&watched, sig);
  sigset_t blocked = watched;
  sigaddset(&blocked, SIGTTOU);
  sigset_t original;
  ::pthread_sigmask(SIG_BLOCK, &blocked, &original);
  int sfd = ::signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK);
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (sfd < 0 || efd < 0)
    return Fail(InternalError(fmt::format("signalfd/eventfd: {}", std::strerror(errno))));

  auto ctx = OpenContext(globals);
  if (!ctx.ok()) return Fail(ctx.status());
  Locker locker(ctx->backend, {.ttl = *ttl, .listener = ctx->listener});

  // Acquire on a helper thread; this thread watches signals and the terminal.
  std::stop_source cancel;
  std::optional<Result<Lock>> acquired;
  const auto start = Steady::now();
  std::jthread acquirer([&] {
    acquired.emplace(locker.Acquire(args.name, {.wait = *wait, .stop = cancel.get_token()}));
    Notify(efd);
  });
  const bool show = ::isatty(STDERR_FILENO) && wait->count() > 0;
  bool shown = false;
  int stop_signal = 0;
  while (true) {
    PollFds(sfd, efd, show ? 1000 : -1);
    for (int sig : ReadSignals(sfd)) {
      if (sig != SIGCHLD && sig != SIGUSR1 && sig != SIGUSR2) {
        stop_signal = sig;
        cancel.request_stop();
      }
    }
    std::uint64_t done = 0;
    if (::read(efd, &done, sizeof done) > 0) break;
    if (show && Steady::now() - start >= std::chrono::seconds(1)) {
      ShowWaiting(*ctx->backend, args.name, start);
      shown = true;
    }
  }
  acquirer.join();
  if (shown) std::fputs("\r\033[K", stderr);
  if (!acquired->ok()) {
    if (stop_signal != 0) return 128 + stop_signal;
    return Fail(acquired->status());
  }
  Lock lock = std::move(*acquired).value();
  if (stop_signal != 0) {
    lock.Release().IgnoreError();
    return 128 + stop_signal;
  }

  const Lease lease = lock.lease();
  const bool foreground = ::isatty(STDIN_FILENO) && ::tcgetpgrp(STDIN_FILENO) == ::getpgrp();
  Child child =
      Spawn(args.command, ChildEnvironment(lease, ctx->backend_redacted), original, foreground);
  if (child.exec_errno != 0) {
    if (child.pid > 0) ::waitpid(child.pid, nullptr, 0);
    if (foreground) ::tcsetpgrp(STDIN_FILENO, ::getpgrp());
    lock.Release().IgnoreError();
    PrintError(
        fmt::format("cannot run '{}': {}", args.command[0], std::strerror(child.exec_errno)));
    return child.exec_errno == ENOENT ? kExitCommandNotFound : kExitCannotExecute;
  }

  std::stop_callback on_lost(lock.lost(), [efd] { Notify(efd); });
  bool lost = false;
  bool kill_pending = false;  // SIGKILL at kill_at unless the command exits first
  Steady::time_point kill_at{};
  int wait_status = 0;
  while (true) {
    int timeout = -1;
    if (kill_pending) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(kill_at - Steady::now());
      timeout = static_cast<int>(std::max<std::int64_t>(0, left.count()));
    }
    PollFds(sfd, efd, timeout);
    bool exited = false;
    for (int sig : ReadSignals(sfd)) {
      if (sig == SIGCHLD) {
        int status = 0;
        if (exited || ::waitpid(child.pid, &status, WNOHANG | WUNTRACED) != child.pid) continue;
        if (!WIFSTOPPED(status)) {
          exited = true;
          wait_status = status;
        } else if (foreground) {
          // Ctrl-Z: take the terminal back and stop too, so the shell sees the job
          // stopped; on `fg` (SIGCONT) hand the terminal back and continue the command.
          // While stopped, nothing renews the lock: it may be lost when we resume.
          ::tcsetpgrp(STDIN_FILENO, ::getpgrp());
          ::raise(SIGSTOP);
          ::tcsetpgrp(STDIN_FILENO, child.pid);
          ::kill(-child.pid, SIGCONT);
        }
      } else {
        ::kill(-child.pid, sig);
      }
    }
    if (exited) break;
    Drain(efd);
    if (!lost && lock.lost().stop_requested()) {
      lost = true;
      PrintError(fmt::format("lost the lock '{}': {}; sending SIGTERM to the command", args.name,
                             lock.lost_reason().message()));
      ::kill(-child.pid, SIGTERM);
      kill_at = Steady::now() + *grace;
      kill_pending = true;
    }
    if (kill_pending && Steady::now() >= kill_at) {
      PrintError(fmt::format("the command did not stop within {}; sending SIGKILL",
                             FormatDuration(*grace)));
      ::kill(-child.pid, SIGKILL);
      kill_pending = false;
    }
  }
  if (foreground) ::tcsetpgrp(STDIN_FILENO, ::getpgrp());
  if (lost) {
    // The leader is gone, but others of its process group may still run without the
    // lock: give them the rest of the grace period, then SIGKILL the group.
    while (kill_pending && Steady::now() < kill_at && ::kill(-child.pid, 0) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(-child.pid, SIGKILL);
  }
  if (lost || lock.lost().stop_requested()) {
    if (!lost) {
      PrintError(fmt::format("lost the lock '{}' while the command ran: {}", args.name,
                             lock.lost_reason().message()));
    }
    return kExitLost;
  }
  if (Status s = lock.Release(); !s.ok()) {
    PrintError(fmt::format("warning: releasing '{}' failed ({}); it frees when its TTL passes",
                           args.name, s.message()));
  }
  return ExitCodeOf(wait_status);
}

}  // namespace dlock::cli
