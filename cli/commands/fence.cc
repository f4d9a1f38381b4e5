// dlock fence STORE RESOURCE [--token T] -- WRITE...
//
// A write that the resource's own store refuses when its fencing token is stale (an
// older token than one the resource has seen): fence.h. STORE is `file` (RESOURCE is a
// file's path and WRITE a command whose standard output becomes the file's new content)
// or the URI of the store the resource lives in (WRITE as its guard takes it: a Redis
// command, an SQL statement and its parameters, an etcd or ZooKeeper put).

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

#include "cli/cli_context.h"
#include "cli/commands/commands.h"
#include "cli/exit_codes.h"
#include "dlock/fence/file.h"
#include "dlock/open.h"

namespace dlock::cli {
namespace {

Result<FencingToken> ParseToken(const std::string& text) {
  if (text.empty()) {
    return InvalidArgumentError(
        "no fencing token: give --token T, or run under dlock run, which sets "
        "DLOCK_FENCING_TOKEN");
  }
  FencingToken token = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), token);
  if (ec != std::errc() || end != text.data() + text.size() || token == 0) {
    return InvalidArgumentError(
        fmt::format("--token: '{}' is not a fencing token (a whole number from 1)", text));
  }
  return token;
}

// Runs `command` with its standard output on `fd`; its exit code (128+N for signal N,
// 126 or 127 when it cannot be run).
int RunInto(const std::vector<std::string>& command, int fd) {
  std::vector<std::string> copy = command;
  std::vector<char*> argv;
  for (auto& arg : copy) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  pid_t pid = ::fork();
  if (pid < 0) return kExitCannotExecute;
  if (pid == 0) {
    if (::dup2(fd, STDOUT_FILENO) < 0) ::_exit(kExitCannotExecute);
    ::execvp(argv[0], argv.data());
    ::_exit(errno == ENOENT ? kExitCommandNotFound : kExitCannotExecute);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return kExitSoftware;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

// dlock fence file PATH -- CMD: PATH becomes what CMD prints, if the token is not stale
// and CMD succeeds; otherwise PATH is left as it was.
int FenceFile(const FenceArgs& args, FencingToken token) {
  int exit_code = 0;
  Status replaced = fence::ReplaceFile(args.resource, token, [&](int fd) {
    exit_code = RunInto(args.write, fd);
    if (exit_code == 0) return OkStatus();
    return FailedPreconditionError(
        fmt::format("'{}' exited with {}{}; {} was left as it was", args.write[0], exit_code,
                    exit_code == kExitCommandNotFound ? " (not found)" : "", args.resource));
  });
  if (replaced.ok()) return kExitOk;
  if (exit_code != 0) {
    PrintError(replaced.message());
    return exit_code;
  }
  return Fail(replaced);
}

}  // namespace

int FenceCommand(const FenceArgs& args) {
  auto token = ParseToken(args.token);
  if (!token.ok()) return Fail(token.status());
  if (args.write.empty()) {
    return Fail(InvalidArgumentError(
        "nothing to write: dlock fence STORE RESOURCE [--token T] -- WRITE..."));
  }
  if (args.store == "file") return FenceFile(args, *token);
  auto guard = OpenGuard(args.store);
  if (!guard.ok()) return Fail(guard.status());
  auto answer = (*guard)->Apply(args.resource, *token, args.write);
  if (!answer.ok()) return Fail(answer.status());
  if (!answer->empty()) std::printf("%s\n", answer->c_str());
  return kExitOk;
}

}  // namespace dlock::cli
