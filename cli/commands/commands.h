// commands.h: one function per subcommand; each returns the process exit code.
#ifndef DLOCK_CLI_COMMANDS_COMMANDS_H_
#define DLOCK_CLI_COMMANDS_COMMANDS_H_

#include <string>
#include <vector>

namespace dlock::cli {

struct RunArgs {
  std::string name;
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
  std::string owner;
  bool force = false;
};

struct InspectArgs {
  std::string name;
  bool json = false;
};

struct BenchArgs {
  std::string mode = "seq";
  int concurrency = 32;
  int workers = 8;
  std::string hold = "0ms";
  std::string duration = "5s";
  std::string ttl = "10s";
  bool json = false;
};

// `backend` is --backend / DLOCK_BACKEND, empty for the default.
int RunCommand(const std::string& backend, const RunArgs& args);
int AcquireCommand(const std::string& backend, const AcquireArgs& args);
int ExtendCommand(const std::string& backend, const ExtendArgs& args);
int ReleaseCommand(const std::string& backend, const ReleaseArgs& args);
int InspectCommand(const std::string& backend, const InspectArgs& args);
int BenchCommand(const std::string& backend, const BenchArgs& args);

}  // namespace dlock::cli

#endif  // DLOCK_CLI_COMMANDS_COMMANDS_H_
