#include "cli/cli_context.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/exit_codes.h"
#include "dlock/backends/file.h"
#include "dlock/duration.h"
#include "dlock/open.h"
#include "dlock/uri.h"

namespace dlock::cli {

void PrintError(std::string_view message) {
  std::string line = fmt::format("dlock: {}\n", message);
  std::fputs(line.c_str(), stderr);
}

int Fail(const Status& status) {
  PrintError(status.message());
  return ExitCodeFor(status.code());
}

Result<Context> OpenContext(const std::string& uri) {
  Context ctx;
  ctx.backend_uri = uri;
  if (uri.empty()) {
    FileOptions options;
    options.dir = DefaultFileDir();
    auto backend = MakeFileBackend(options);
    if (!backend.ok()) return backend.status();
    ctx.backend = std::move(*backend);
    ctx.backend_redacted = "file://" + options.dir.string();
    return ctx;
  }
  auto parsed = ParseBackendUri(uri);
  if (!parsed.ok()) return parsed.status();
  auto backend = OpenBackend(*parsed);
  if (!backend.ok()) return backend.status();
  ctx.backend = std::move(*backend);
  ctx.backend_redacted = parsed->Redacted();
  return ctx;
}

Result<std::chrono::milliseconds> ParseDurationOption(std::string_view option,
                                                      std::string_view text) {
  auto d = ParseDuration(text);
  if (!d.ok()) return InvalidArgumentError(fmt::format("{}: {}", option, d.status().message()));
  return d;
}

namespace {

class LogListener final : public EventListener {
 public:
  void OnEvent(const Event& e) override {
    auto ms = std::chrono::duration<double, std::milli>(e.elapsed).count();
    switch (e.kind) {
      case EventKind::kWaiting:
        spdlog::info("waiting for '{}': {}", e.name, e.status.message());
        break;
      case EventKind::kAcquired:
        spdlog::info("acquired '{}' (token {}) after {:.1f}ms", e.name, e.token, ms);
        break;
      case EventKind::kAcquireFailed:
        spdlog::debug("did not acquire '{}' after {:.1f}ms: {}", e.name, ms, e.status.ToString());
        break;
      case EventKind::kRenewed:
        spdlog::debug("renewed '{}' (token {}) in {:.1f}ms", e.name, e.token, ms);
        break;
      case EventKind::kRenewFailed:
        spdlog::warn("renewing '{}' failed, retrying: {}", e.name, e.status.ToString());
        break;
      case EventKind::kLost:
        spdlog::error("lost '{}' (token {}) after holding it {:.1f}ms: {}", e.name, e.token, ms,
                      e.status.message());
        break;
      case EventKind::kReleased:
        if (e.status.ok()) {
          spdlog::info("released '{}' (token {}) after holding it {:.1f}ms", e.name, e.token, ms);
        } else {
          spdlog::warn("releasing '{}' failed: {}", e.name, e.status.ToString());
        }
        break;
    }
  }
};

}  // namespace

std::shared_ptr<EventListener> MakeLogListener() { return std::make_shared<LogListener>(); }

}  // namespace dlock::cli
