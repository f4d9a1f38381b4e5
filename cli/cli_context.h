// cli_context.h: what every subcommand shares: the backend chosen by --backend or
// DLOCK_BACKEND (default: the file backend in this user's runtime directory), error
// printing, the event log, and the metrics endpoint.
#ifndef DLOCK_CLI_CLI_CONTEXT_H_
#define DLOCK_CLI_CLI_CONTEXT_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "dlock/backend.h"
#include "dlock/events.h"
#include "dlock/status.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace dlock::cli {

// The options before the subcommand.
struct Globals {
  std::string backend;         // --backend / DLOCK_BACKEND; empty: the default
  std::string metrics_listen;  // --metrics-listen ADDR:PORT; empty: no endpoint
  std::string log_level = "warn";
  std::string log_format = "text";  // text or json
};

struct Context {
  std::string backend_redacted;  // safe to print and to hand to a child
  std::shared_ptr<Backend> backend;
  // Logs events (and counts them in `registry` when metrics are on).
  std::shared_ptr<EventListener> listener;
  // Always set when dlock is built with Prometheus (DLOCK_WITH_PROMETHEUS), else null.
  std::shared_ptr<prometheus::Registry> registry;
  std::shared_ptr<prometheus::Exposer> exposer;  // serves /metrics when asked to
};

// Opens the backend and, with --metrics-listen, the /metrics endpoint (refused, as
// kUnimplemented, when dlock is built without Prometheus).
Result<Context> OpenContext(const Globals& globals);

// Sets up spdlog for --log-level and --log-format.
void SetUpLogging(const Globals& globals);

// Prints "dlock: <message>" on stderr.
void PrintError(std::string_view message);

// Prints the status's message and returns its exit code.
int Fail(const Status& status);

// Parses a duration option; kInvalidArgument names the option.
Result<std::chrono::milliseconds> ParseDurationOption(std::string_view option,
                                                      std::string_view text);

// Logs Locker events through spdlog (never owner ids or passwords); as one JSON object
// per line with `json`.
std::shared_ptr<EventListener> MakeLogListener(bool json);

}  // namespace dlock::cli

#endif  // DLOCK_CLI_CLI_CONTEXT_H_
