// commands.h: one function per subcommand; each returns the process exit code.
#ifndef DLOCK_CLI_COMMANDS_COMMANDS_H_
#define DLOCK_CLI_COMMANDS_COMMANDS_H_

#include <optional>
#include <string>
#include <vector>

#include "cli/cli_context.h"

namespace dlock::cli {

struct RunArgs {
  std::vector<std::string> names;  // one lock, or a set taken all-or-nothing
  std::string ttl = "30s";
  std::string wait = "10s";
  std::string grace = "5s";
  std::vector<std::string> command;  // after "--"
};

struct AcquireArgs {
  std::string name;
  std::string ttl = "30s";
  std::string wait = "10s";
  bool json = false;
};

struct ExtendArgs {
  std::string name;
  std::string owner;
  std::string ttl = "30s";
};

struct ReleaseArgs {
  std::string name;
  std::optional<std::string> owner;  // --owner, if given (an empty one is refused)
  bool force = false;
};

struct InspectArgs {
  std::string name;
  bool json = false;
  bool watch = false;  // print again on every change, until interrupted
};

struct BenchArgs {
  std::string mode = "seq";
  int concurrency = 32;
  int workers = 8;
  std::string hold = "0ms";
  std::string duration = "5s";
  std::string ttl = "10s";
  bool json = false;
  bool processes = false;  // contended: one process per worker instead of threads
  std::string lock;        // contended: the lock name; empty: a fresh one
  int locks = 10000;       // hold: how many locks
};

struct FenceArgs {
  std::string store;               // "file", or the resource store's URI
  std::string resource;            // a file's path, or the resource's name
  std::string token;               // --token, or DLOCK_FENCING_TOKEN
  std::vector<std::string> write;  // after "--"
};

int RunCommand(const Globals& globals, const RunArgs& args);
int AcquireCommand(const Globals& globals, const AcquireArgs& args);
int ExtendCommand(const Globals& globals, const ExtendArgs& args);
int ReleaseCommand(const Globals& globals, const ReleaseArgs& args);
int InspectCommand(const Globals& globals, const InspectArgs& args);
int BenchCommand(const Globals& globals, const BenchArgs& args);
int FenceCommand(const FenceArgs& args);

}  // namespace dlock::cli

#endif  // DLOCK_CLI_COMMANDS_COMMANDS_H_
