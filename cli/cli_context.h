// cli_context.h: what every subcommand shares: the backend chosen by --backend or
// DLOCK_BACKEND (default: the file backend in this user's runtime directory), error
// printing, and the event log.
#ifndef DLOCK_CLI_CLI_CONTEXT_H_
#define DLOCK_CLI_CLI_CONTEXT_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "dlock/backend.h"
#include "dlock/events.h"
#include "dlock/status.h"

namespace dlock::cli {

struct Context {
  std::string backend_uri;       // as given; empty: the default file backend
  std::string backend_redacted;  // safe to print and to hand to a child
  std::shared_ptr<Backend> backend;
};

// Opens the backend named by `uri` (or the default). On failure prints one line and
// returns the exit code in `exit_code`.
Result<Context> OpenContext(const std::string& uri);

// Prints "dlock: <message>" on stderr.
void PrintError(std::string_view message);

// Prints the status's message and returns its exit code.
int Fail(const Status& status);

// Parses a duration option; kInvalidArgument names the option.
Result<std::chrono::milliseconds> ParseDurationOption(std::string_view option,
                                                      std::string_view text);

// Logs Locker events through spdlog (never owner ids or passwords).
std::shared_ptr<EventListener> MakeLogListener();

}  // namespace dlock::cli

#endif  // DLOCK_CLI_CLI_CONTEXT_H_
