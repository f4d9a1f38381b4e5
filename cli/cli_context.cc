#include "cli/cli_context.h"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.h"
#include "cli/output.h"
#include "dlock/backends/file.h"
#include "dlock/duration.h"
#include "dlock/open.h"
#include "dlock/uri.h"

#ifdef DLOCK_WITH_PROMETHEUS
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include "dlock/prometheus.h"
#endif

namespace dlock::cli {
namespace {

// --metrics-listen: [HOST:]PORT, PORT from 1 to 65535 (an IPv6 HOST in brackets).
Status ValidateListenAddress(std::string_view addr) {
  std::string_view port = addr.substr(addr.rfind(':') + 1);  // npos + 1 == 0: all of it
  std::string_view host = addr.substr(0, addr.size() - port.size());
  if (!host.empty()) host.remove_suffix(1);  // the ':'
  unsigned value = 0;
  bool ok =
      !port.empty() && port.size() <= 5 && (!host.empty() || port == addr) &&
      (host.find(':') == std::string_view::npos || (host.starts_with('[') && host.ends_with(']')));
  for (char c : port) {
    ok = ok && c >= '0' && c <= '9';
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (!ok || value == 0 || value > 65535) {
    return InvalidArgumentError(
        fmt::format("--metrics-listen: '{}' is not [HOST:]PORT with a port from 1 to 65535, e.g. "
                    "127.0.0.1:9464",
                    addr));
  }
  return OkStatus();
}

}  // namespace

void PrintError(std::string_view message) {
  std::string line = fmt::format("dlock: {}\n", message);
  std::fputs(line.c_str(), stderr);
}

int Fail(const Status& status) {
  PrintError(status.message());
  return ExitCodeFor(status.code());
}

void SetUpLogging(const Globals& globals) {
  auto logger = spdlog::stderr_logger_st("dlock");
  logger->set_pattern(globals.log_format == "json" ? "%v" : "dlock: [%l] %v");
  logger->set_level(spdlog::level::from_str(globals.log_level));
  spdlog::set_default_logger(logger);
}

Result<Context> OpenContext(const Globals& globals) {
  if (!globals.metrics_listen.empty()) {
    if (Status s = ValidateListenAddress(globals.metrics_listen); !s.ok()) return s;
#ifndef DLOCK_WITH_PROMETHEUS
    return UnimplementedError(
        "--metrics-listen: this dlock was built without Prometheus support "
        "(-DDLOCK_WITH_PROMETHEUS=OFF)");
#endif
  }
  Context ctx;
  if (globals.backend.empty()) {
    FileOptions options;
    options.dir = DefaultFileDir();
    auto backend = MakeFileBackend(options);
    if (!backend.ok()) return backend.status();
    ctx.backend = std::move(*backend);
    ctx.backend_redacted = "file://" + options.dir.string();
  } else {
    auto parsed = ParseBackendUri(globals.backend);
    if (!parsed.ok()) return parsed.status();
    auto backend = OpenBackend(*parsed);
    if (!backend.ok()) return backend.status();
    ctx.backend = std::move(*backend);
    ctx.backend_redacted = parsed->Redacted();
  }
#ifdef DLOCK_WITH_PROMETHEUS
  ctx.registry = std::make_shared<prometheus::Registry>();
  if (!globals.metrics_listen.empty()) {
    try {
      ctx.exposer = std::make_shared<prometheus::Exposer>(globals.metrics_listen);
    } catch (const std::exception& e) {
      // CivetWeb says little ("null context when constructing CivetServer").
      return FailedPreconditionError(fmt::format(
          "cannot serve metrics on {}: cannot listen there (the port is in use or needs root, "
          "or the address is not one of this host's): {}",
          globals.metrics_listen, e.what()));
    }
    ctx.exposer->RegisterCollectable(ctx.registry);
  }
  ctx.listener =
      FanOut({MakeLogListener(globals.log_format == "json"), MakePrometheusListener(ctx.registry)});
#else
  ctx.listener = MakeLogListener(globals.log_format == "json");
#endif
  return ctx;
}

Result<std::chrono::milliseconds> ParseDurationOption(std::string_view option,
                                                      std::string_view text) {
  auto d = ParseDuration(text);
  if (!d.ok()) return InvalidArgumentError(fmt::format("{}: {}", option, d.status().message()));
  return d;
}

namespace {

spdlog::level::level_enum LevelOf(EventKind kind, const Status& status) {
  switch (kind) {
    case EventKind::kRenewed:
    case EventKind::kAcquireFailed: return spdlog::level::debug;
    case EventKind::kRenewFailed: return spdlog::level::warn;
    case EventKind::kLost: return spdlog::level::err;
    case EventKind::kReleased: return status.ok() ? spdlog::level::info : spdlog::level::warn;
    default: return spdlog::level::info;
  }
}

class LogListener final : public EventListener {
 public:
  explicit LogListener(bool json) : json_(json) {}

  void OnEvent(const Event& e) override {
    auto level = LevelOf(e.kind, e.status);
    if (!spdlog::should_log(level)) return;
    auto ms = std::chrono::duration<double, std::milli>(e.elapsed).count();
    if (json_) {
      nlohmann::json j = {{"time", FormatTime(std::chrono::system_clock::now())},
                          {"level", spdlog::level::to_string_view(level).data()},
                          {"event", EventKindName(e.kind)},
                          {"lock", e.name},
                          {"backend", e.backend},
                          {"elapsed_ms", ms}};
      if (e.token != 0) j["fencing_token"] = e.token;
      if (!e.status.ok()) j["error"] = e.status.ToString();
      spdlog::log(level, "{}", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      return;
    }
    std::string what;
    switch (e.kind) {
      case EventKind::kWaiting: what = fmt::format("waiting: {}", e.status.message()); break;
      case EventKind::kAcquired: what = fmt::format("acquired after {:.1f}ms", ms); break;
      case EventKind::kAcquireFailed:
        what = fmt::format("not acquired after {:.1f}ms: {}", ms, e.status.ToString());
        break;
      case EventKind::kRenewed: what = fmt::format("renewed in {:.1f}ms", ms); break;
      case EventKind::kRenewFailed:
        what = fmt::format("renewal failed, retrying: {}", e.status.ToString());
        break;
      case EventKind::kLost:
        what = fmt::format("lost after holding it {:.1f}ms: {}", ms, e.status.message());
        break;
      case EventKind::kReleased:
        what = e.status.ok() ? fmt::format("released after holding it {:.1f}ms", ms)
                             : fmt::format("release failed: {}", e.status.ToString());
        break;
      case EventKind::kDetached:
        what = fmt::format("left held (detached) after {:.1f}ms", ms);
        break;
    }
    if (e.token != 0) what += fmt::format(" (token {})", e.token);
    spdlog::log(level, "'{}': {}", e.name, what);
  }

 private:
  const bool json_;
};

}  // namespace

std::shared_ptr<EventListener> MakeLogListener(bool json) {
  return std::make_shared<LogListener>(json);
}

}  // namespace dlock::cli
