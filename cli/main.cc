// dlock: run commands under distributed locks, and take, extend, release and inspect them.
// The contract (commands, durations, exit codes): README.md, and dlock(1) (cli/man/).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli_context.h"
#include "cli/commands/commands.h"
#include "cli/exit_codes.h"
#include "dlock/lease.h"

namespace {

using dlock::cli::kExitUsage;

int Main(int argc, char** argv) {
  // Everything after the first "--" is the command of `run`, untouched by option parsing.
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> command;
  bool has_separator = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      args.resize(i);
      has_separator = true;
      break;
    }
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector

  // The name is given: parse() of a vector, unlike parse(argc, argv), leaves it empty, and
  // the help's usage lines would lack it.
  CLI::App app{
      "dlock: distributed locks that are safe, fast and observable.\n"
      "Durations: 250ms, 10s, 2m, 1h; a bare number is seconds.",
      "dlock"};
  app.set_version_flag("--version", "dlock " DLOCK_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  app.allow_extras();  // reported below, with a clearer message than CLI11's
  dlock::cli::Globals globals;
  auto* backend_opt =
      app.add_option(
             "--backend", globals.backend,
             "Store URI: file:///DIR (default: a per-user runtime dir), redis://, rediss://, "
             "redis+sentinel://, rediss+sentinel://, redis+cluster://, rediss+cluster://, "
             "redlock://, "
             "etcd://, zk://")
          ->envname("DLOCK_BACKEND");
  app.add_option("--log-level", globals.log_level, "off, error, warn, info or debug")
      ->check(CLI::IsMember({"off", "error", "warn", "info", "debug", "trace"}));
  app.add_option("--log-format", globals.log_format, "text, or json: one object per line")
      ->check(CLI::IsMember({"text", "json"}));
  auto* metrics_opt =
      app.add_option("--metrics-listen", globals.metrics_listen,
                     "Serve Prometheus metrics at http://ADDR:PORT/metrics while the command runs");

  dlock::cli::RunArgs run;
  auto* run_cmd =
      app.add_subcommand("run", "Run a command while holding the lock: run NAME [NAME...] -- CMD");
  run_cmd->add_option("name", run.names, "Lock name; several: all of them, or none")->required();
  run_cmd->add_option("--ttl", run.ttl, "Lease TTL, renewed while the command runs")
      ->capture_default_str();
  run_cmd->add_option("--wait", run.wait, "How long to wait for the lock; 0: one attempt")
      ->capture_default_str();
  run_cmd->add_option("--grace", run.grace, "After a lost lock: SIGTERM, then SIGKILL after this")
      ->capture_default_str();

  dlock::cli::AcquireArgs acquire;
  auto* acquire_cmd =
      app.add_subcommand("acquire", "Take the lock and leave it held; print the lease");
  acquire_cmd->add_option("name", acquire.name, "Lock name")->required();
  acquire_cmd->add_option("--ttl", acquire.ttl, "Lease TTL")->capture_default_str();
  acquire_cmd->add_option("--wait", acquire.wait, "How long to wait; 0: one attempt")
      ->capture_default_str();
  acquire_cmd->add_flag("--json", acquire.json, "Print JSON");

  dlock::cli::ExtendArgs extend;
  auto* extend_cmd = app.add_subcommand("extend", "Reset the TTL of a lock you hold");
  extend_cmd->add_option("name", extend.name, "Lock name")->required();
  extend_cmd->add_option("--owner", extend.owner, "Owner id printed by acquire")->required();
  extend_cmd->add_option("--ttl", extend.ttl, "New TTL from now")->capture_default_str();

  dlock::cli::ReleaseArgs release;
  auto* release_cmd = app.add_subcommand("release", "Release a lock: --owner ID, or --force");
  release_cmd->add_option("name", release.name, "Lock name")->required();
  auto* owner_opt =
      release_cmd->add_option("--owner", release.owner, "Owner id printed by acquire");
  auto* force_opt = release_cmd->add_flag("--force", release.force,
                                          "Break the lock whoever holds it (operators)");
  owner_opt->excludes(force_opt);

  dlock::cli::InspectArgs inspect;
  auto* inspect_cmd = app.add_subcommand("inspect", "Show who holds a lock, its token and TTL");
  inspect_cmd->add_option("name", inspect.name, "Lock name")->required();
  inspect_cmd->add_flag("--json", inspect.json, "Print JSON");
  inspect_cmd->add_flag("--watch", inspect.watch, "Print again whenever the lock changes");

  dlock::cli::BenchArgs bench;
  auto* bench_cmd = app.add_subcommand("bench", "Measure lock throughput and latency on a backend");
  bench_cmd->add_option("--mode", bench.mode, "seq, conc, contended or hold")
      ->capture_default_str();
  bench_cmd->add_option("--concurrency", bench.concurrency, "conc: loops in flight")
      ->capture_default_str();
  bench_cmd->add_option("--workers", bench.workers, "contended: threads on one lock")
      ->capture_default_str();
  bench_cmd->add_option("--hold", bench.hold, "contended: time each holder keeps the lock")
      ->capture_default_str();
  bench_cmd->add_option("--locks", bench.locks, "hold: locks held at once, each auto-renewed")
      ->capture_default_str();
  bench_cmd->add_option("--duration", bench.duration, "How long to run")->capture_default_str();
  bench_cmd->add_option("--ttl", bench.ttl, "Lease TTL")->capture_default_str();
  bench_cmd->add_flag("--json", bench.json, "Print one JSON object");
  bench_cmd->add_flag("--processes", bench.processes,
                      "contended: run each worker in a process of its own");
  auto* lock_opt = bench_cmd->add_option("--lock", bench.lock,
                                         "contended: the lock name (default: a fresh one)");

  dlock::cli::FenceArgs fence;
  auto* fence_cmd = app.add_subcommand(
      "fence",
      "Write to a resource unless the fencing token is stale: fence STORE RESOURCE -- WRITE");
  fence_cmd
      ->add_option("store", fence.store,
                   "file (RESOURCE is a path; WRITE a command whose output is the new "
                   "content), or the store's URI: redis://, etcd://, zk://, postgres://")
      ->required();
  fence_cmd->add_option("resource", fence.resource, "A file's path, or the resource's name")
      ->required();
  fence_cmd->add_option("--token", fence.token, "The holder's fencing token")
      ->envname("DLOCK_FENCING_TOKEN");

  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    if (app.get_subcommands().empty() && !app.remaining().empty()) {
      const std::string first = app.remaining().front();
      dlock::cli::PrintError(fmt::format("unknown {} '{}' (see dlock --help)",
                                         first.starts_with('-') ? "option" : "command", first));
      return kExitUsage;
    }
    dlock::cli::PrintError(fmt::format("{} (see dlock --help)", e.what()));
    return kExitUsage;
  }
  dlock::cli::SetUpLogging(globals);
  // An option given with an empty value is a mistake (an unset shell variable, say), not
  // a request for the default; an empty DLOCK_BACKEND, though, means unset.
  const struct {
    CLI::Option* option;
    const std::string& value;
    const char* error;
  } not_empty[] = {
      {backend_opt, globals.backend,
       "--backend: the URI is empty (leave the option out for the default)"},
      {metrics_opt, globals.metrics_listen,
       "--metrics-listen: the address is empty (e.g. 127.0.0.1:9464)"},
  };
  for (const auto& given : not_empty) {
    if (given.option->count() > 0 && given.value.empty()) {
      dlock::cli::PrintError(given.error);
      return kExitUsage;
    }
  }
  if (lock_opt->count() > 0) {  // an empty --lock is a mistake, not "a fresh name"
    if (dlock::Status s = dlock::ValidateName(bench.lock); !s.ok()) return dlock::cli::Fail(s);
  }

  std::vector<std::string> extras = app.remaining();
  for (auto* sub : app.get_subcommands()) {
    for (const auto& e : sub->remaining()) extras.push_back(e);
  }
  if (!extras.empty() && extras[0].size() > 1 && extras[0][0] == '-') {
    dlock::cli::PrintError(fmt::format("unknown option '{}' (see dlock --help)", extras[0]));
    return kExitUsage;
  }
  const bool takes_command = run_cmd->parsed() || fence_cmd->parsed();
  if (!extras.empty() && (!takes_command || has_separator)) {
    dlock::cli::PrintError(fmt::format("unexpected argument '{}' (see dlock --help)", extras[0]));
    return kExitUsage;
  }
  if (has_separator && !takes_command) {
    dlock::cli::PrintError("'--' and a command belong to dlock run and dlock fence only");
    return kExitUsage;
  }
  if (run_cmd->parsed()) {
    if (!has_separator || !extras.empty()) {
      dlock::cli::PrintError("missing '--' before the command: dlock run NAME [options] -- CMD");
      return kExitUsage;
    }
    run.command = std::move(command);
    return dlock::cli::RunCommand(globals, run);
  }
  if (fence_cmd->parsed()) {
    if (!has_separator) {
      dlock::cli::PrintError(
          "missing '--' before the write: dlock fence STORE RESOURCE [--token T] -- WRITE...");
      return kExitUsage;
    }
    fence.write = std::move(command);
    return dlock::cli::FenceCommand(fence);
  }
  if (acquire_cmd->parsed()) return dlock::cli::AcquireCommand(globals, acquire);
  if (extend_cmd->parsed()) return dlock::cli::ExtendCommand(globals, extend);
  if (release_cmd->parsed()) return dlock::cli::ReleaseCommand(globals, release);
  if (inspect_cmd->parsed()) return dlock::cli::InspectCommand(globals, inspect);
  if (bench_cmd->parsed()) return dlock::cli::BenchCommand(globals, bench);
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
