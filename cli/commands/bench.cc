// dlock bench: a load generator for any backend, like redis-benchmark.
//   --mode seq        one loop of acquire+release on distinct names
//   --mode conc       --concurrency loops at once, distinct names: asynchronous calls
//                     from one thread where the backend has them (Redis, Redlock:
//                     pipelined), else a thread per loop
//   --mode contended  --workers threads on one name, each holding it for --hold
//   --mode hold       takes --locks distinct locks with auto-renewal and holds them for
//                     --duration: the process's threads, memory and CPU per held lock,
//                     and its renewals, failed renewals and losses
// Latency is per acquire+release pair (seq, conc) or the wait to acquire (contended).
// Every mode goes through a Locker, as an application would, so the run also fills the
// dlock_* metrics (served with --metrics-listen); the text output ends with the
// acquire-wait histogram (when dlock is built with Prometheus).
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "cli/cli_context.h"
#include "cli/commands/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "dlock/locker.h"

#ifdef DLOCK_WITH_PROMETHEUS
#include <prometheus/registry.h>
#endif

namespace dlock::cli {
namespace {

using Steady = std::chrono::steady_clock;

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

// Nearest-rank percentile of sorted samples (as the peer scripts compute it).
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size()));
  return sorted[std::min(i, sorted.size() - 1)];
}

struct WorkerResult {
  std::vector<double> latencies_us;
  long errors = 0;
  std::atomic<std::size_t> count{0};  // latencies_us.size(), readable by the progress line
};

// The dlock_acquire_wait_seconds histogram of `registry`, one line per bucket (nothing
// without Prometheus).
#ifdef DLOCK_WITH_PROMETHEUS
std::string WaitHistogram(prometheus::Registry* registry) {
  std::string out;
  for (const auto& family : registry->Collect()) {
    if (family.name != "dlock_acquire_wait_seconds") continue;
    for (const auto& metric : family.metric) {
      std::string labels;
      for (const auto& l : metric.label) labels += fmt::format(" {}={}", l.name, l.value);
      out += fmt::format("acquire wait histogram{}:\n", labels);
      std::uint64_t before = 0;
      for (const auto& bucket : metric.histogram.bucket) {
        std::uint64_t in = bucket.cumulative_count - before;
        before = bucket.cumulative_count;
        if (in == 0) continue;
        std::string le = std::isinf(bucket.upper_bound)
                             ? std::string("+Inf")
                             : fmt::format("{:g}ms", bucket.upper_bound * 1000);
        out += fmt::format("  <= {:>8} {:>10}\n", le, in);
      }
    }
  }
  return out;
}
#else
std::string WaitHistogram(prometheus::Registry* /*registry*/) { return {}; }
#endif

// Counts a Locker's renewals, failed renewals and losses for --mode hold, and passes
// every event on to `next`, the CLI's listener (logs, metrics).
class HoldCounts final : public EventListener {
 public:
  explicit HoldCounts(std::shared_ptr<EventListener> next) : next_(std::move(next)) {}

  void OnEvent(const Event& e) override {
    if (e.kind == EventKind::kRenewed) renewed_.fetch_add(1, std::memory_order_relaxed);
    if (e.kind == EventKind::kRenewFailed) renew_failed_.fetch_add(1, std::memory_order_relaxed);
    if (e.kind == EventKind::kLost) lost_.fetch_add(1, std::memory_order_relaxed);
    if (next_) next_->OnEvent(e);
  }

  double renewed() const { return static_cast<double>(renewed_.load()); }
  double renew_failed() const { return static_cast<double>(renew_failed_.load()); }
  double lost() const { return static_cast<double>(lost_.load()); }

 private:
  const std::shared_ptr<EventListener> next_;
  std::atomic<long> renewed_{0};
  std::atomic<long> renew_failed_{0};
  std::atomic<long> lost_{0};
};

// This process's resident memory in bytes, and its number of threads (Linux).
double ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  double pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<double>(::sysconf(_SC_PAGESIZE));
}
int ThreadCount() {
  std::error_code ec;
  auto tasks = std::filesystem::directory_iterator("/proc/self/task", ec);
  return static_cast<int>(std::distance(begin(tasks), end(tasks)));
}

// One loop of --mode conc over asynchronous calls: TryAcquireAsync, then ReleaseAsync,
// then again, until `stop`. Each step starts in the previous one's callback, so a loop
// has one call in flight; its state is touched by one thread at a time.
class AsyncLoop {
 public:
  struct Shared {
    Locker* locker;
    std::string prefix;
    const std::atomic<bool>* stop;
    std::mutex mu;
    std::condition_variable cv;
    int running = 0;  // guarded by mu
  };
  AsyncLoop(Shared* shared, int index, WorkerResult* result)
      : shared_(shared), index_(index), result_(result) {}

  void Next() {
    if (shared_->stop->load()) {
      std::lock_guard lock(shared_->mu);
      if (--shared_->running == 0) shared_->cv.notify_all();
      return;
    }
    t0_ = Steady::now();
    // As the threaded loops: 1000 names per loop.
    shared_->locker->TryAcquireAsync(fmt::format("{}{}-{}", shared_->prefix, index_, i_++ % 1000),
                                     {.auto_renew = false}, [this](Result<Lock> lock) {
                                       if (!lock.ok()) {
                                         result_->errors++;
                                         return Next();
                                       }
                                       lock->ReleaseAsync([this](const Status& s) { Released(s); });
                                     });
  }

 private:
  void Released(const Status& status) {
    if (status.ok()) {
      result_->latencies_us.push_back(
          std::chrono::duration<double, std::micro>(Steady::now() - t0_).count());
      result_->count.fetch_add(1, std::memory_order_relaxed);
    } else {
      result_->errors++;
    }
    Next();
  }

  Shared* const shared_;
  const int index_;
  WorkerResult* const result_;
  long i_ = 0;
  Steady::time_point t0_{};
};

// The rows of the result table of --mode seq, conc and contended, from their JSON
// summary `j`; `what` is what an operation is ("pairs": acquire + release, or
// "acquisitions", whose latency is the wait).
TableRows ResultRows(const nlohmann::json& j, std::string_view what) {
  const std::string latency = what == "acquisitions" ? "wait" : "latency";
  auto us = [&](const char* key) { return fmt::format("{} us", Grouped(j[key].get<double>())); };
  TableRows rows = {
      {"operations", fmt::format("{} {}", Grouped(j["ops"].get<double>()), what)},
      {"throughput", fmt::format("{} {}/s", Grouped(j["ops_per_s"].get<double>()), what)},
      {latency + " p50", us("p50_us")},
      {latency + " p99", us("p99_us")},
      {latency + " p99.9", us("p999_us")},
      {latency + " max", us("max_us")},
      {"client CPU", fmt::format("{:.1f} us per operation", j["cpu_us_per_op"].get<double>())}};
  if (j.contains("worker_min")) {
    rows.emplace_back("per worker",
                      fmt::format("{} .. {} {}", Grouped(j["worker_min"].get<double>()),
                                  Grouped(j["worker_max"].get<double>()), what));
  }
  rows.emplace_back("errors", Grouped(j["errors"].get<double>()));
  return rows;
}

// --mode hold: what holding many locks costs this process.
int BenchHold(Context& ctx, const BenchArgs& args, std::chrono::milliseconds ttl,
              std::chrono::milliseconds duration) {
  auto counts = std::make_shared<HoldCounts>(ctx.listener);
  Locker locker(ctx.backend, {.ttl = ttl, .listener = counts});
  const std::string prefix = "dlock-bench/" + NewOwnerId().substr(0, 8) + "/hold-";
  std::vector<Lock> locks;
  locks.reserve(static_cast<std::size_t>(args.locks));
  long errors = 0;
  const double rss_before = ResidentBytes();
  const auto start = Steady::now();
  for (int i = 0; i < args.locks; ++i) {
    auto lock = locker.Acquire(fmt::format("{}{}", prefix, i));
    if (!lock.ok()) {
      if (errors++ == 0) PrintError(lock.status().ToString());
      continue;
    }
    locks.push_back(std::move(*lock));
  }
  const double acquire_s = std::chrono::duration<double>(Steady::now() - start).count();
  const double rss_after = ResidentBytes();
  const double renewed_before = counts->renewed();
  const double cpu_before = CpuSeconds();
  const auto hold_start = Steady::now();
  const bool progress = ::isatty(STDERR_FILENO) && !args.json;
  while (Steady::now() < hold_start + duration) {
    std::this_thread::sleep_until(
        std::min(hold_start + duration, Steady::now() + std::chrono::seconds(1)));
    if (!progress) continue;
    std::string line =
        fmt::format("\rdlock bench: holding {} locks, {:.0f}s, {:.0f} renewals\033[K", locks.size(),
                    std::chrono::duration<double>(Steady::now() - hold_start).count(),
                    counts->renewed() - renewed_before);
    std::fputs(line.c_str(), stderr);
  }
  if (progress) std::fputs("\r\033[K", stderr);
  const double held_s = std::chrono::duration<double>(Steady::now() - hold_start).count();
  const double cpu = CpuSeconds() - cpu_before;
  const int threads = ThreadCount();
  const double renewals = counts->renewed() - renewed_before;
  const double failed = counts->renew_failed();
  const double lost = counts->lost();
  for (auto& lock : locks) {
    if (!lock.Release().ok()) errors++;
  }
  const double n = static_cast<double>(std::max<std::size_t>(1, locks.size()));
  nlohmann::json j = {{"backend", ctx.backend_redacted},
                      {"mode", "hold"},
                      {"locks", locks.size()},
                      {"ttl_ms", ttl.count()},
                      {"seconds", held_s},
                      {"acquire_s", acquire_s},
                      {"process_threads", threads},
                      {"rss_bytes_per_lock", (rss_after - rss_before) / n},
                      {"cpu_us_per_lock_s", cpu * 1e6 / n / held_s},
                      {"cpu_percent", cpu * 100 / held_s},
                      {"renewals", renewals},
                      {"renewals_per_s", renewals / held_s},
                      {"renew_failed", failed},
                      {"lost", lost},
                      {"errors", errors}};
  if (args.json) {
    std::puts(j.dump().c_str());
  } else {
    const TableRows rows = {
        {"locks held",
         fmt::format("{} (TTL {} ms, taken in {:.1f} s)", Grouped(n), ttl.count(), acquire_s)},
        {"process threads", fmt::format("{}", threads)},
        {"memory", fmt::format("{:.0f} bytes per lock", j["rss_bytes_per_lock"].get<double>())},
        {"client CPU",
         fmt::format("{:.2f} us per lock per second ({:.1f}% of a core)",
                     j["cpu_us_per_lock_s"].get<double>(), j["cpu_percent"].get<double>())},
        {"renewals", fmt::format("{} ({}/s)", Grouped(renewals), Grouped(renewals / held_s))},
        {"renewals failed", Grouped(failed)},
        {"locks lost", Grouped(lost)},
        {"errors", fmt::format("{}", errors)}};
    std::fputs(
        FormatTable(fmt::format("dlock bench: hold on {}, {:.1f} s", ctx.backend_redacted, held_s),
                    rows)
            .c_str(),
        stdout);
  }
  // Failed renewals and losses are results (reported above), not a failed run.
  return errors == 0 ? kExitOk : kExitUnavailable;
}

// Reads each of `fds` to its end of file and closes it; on a terminal, unless `json`, with
// a progress line every second (the workers print nothing until they end).
std::vector<std::string> ReadAllShowingProgress(std::vector<pollfd>& fds, bool json) {
  const bool progress = ::isatty(STDERR_FILENO) && !json;
  const auto start = Steady::now();
  std::vector<std::string> texts(fds.size());
  std::size_t open = fds.size();
  while (open > 0) {
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      std::array<char, 4096> buf{};
      const ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n > 0) {
        texts[i].append(buf.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores it from now on
        --open;
      }
    }
    if (progress) {
      std::string line = fmt::format("\rdlock bench: {:.0f}s, {} of {} processes done\033[K",
                                     std::chrono::duration<double>(Steady::now() - start).count(),
                                     fds.size() - open, fds.size());
      std::fputs(line.c_str(), stderr);
    }
  }
  if (progress) std::fputs("\r\033[K", stderr);
  return texts;
}

// --processes: runs `workers` copies of this program, each a one-thread contended bench
// on the same lock, and combines their JSON results (percentiles: the median of the
// processes' p50s, the largest p99, p99.9 and max).
int BenchProcesses(const Globals& globals, const BenchArgs& args) {
  std::string lock =
      args.lock.empty() ? "dlock-bench/" + NewOwnerId().substr(0, 8) + "/contended" : args.lock;
  std::vector<std::string> argv = {"/proc/self/exe"};
  if (!globals.backend.empty()) argv.insert(argv.end(), {"--backend", globals.backend});
  argv.insert(argv.end(),
              {"bench", "--mode", "contended", "--workers", "1", "--hold", args.hold, "--duration",
               args.duration, "--ttl", args.ttl, "--json", "--lock", lock});
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<pid_t> pids;
  std::vector<pollfd> outs;  // each worker's stdout, until its end of file
  for (int i = 0; i < args.workers; ++i) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return Fail(InternalError("pipe failed"));
    pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::execv(cargv[0], cargv.data());
      ::_exit(kExitSoftware);
    }
    ::close(out[1]);
    pids.push_back(pid);
    outs.push_back({out[0], POLLIN, 0});
  }
  std::vector<std::string> texts = ReadAllShowingProgress(outs, args.json);
  std::vector<nlohmann::json> results;
  for (std::size_t i = 0; i < pids.size(); ++i) {
    int status = 0;
    ::waitpid(pids[i], &status, 0);
    auto j = nlohmann::json::parse(texts[i], nullptr, false);
    if (j.is_discarded() || !j.contains("ops")) {
      return Fail(UnavailableError("a worker process failed; run one without --processes"));
    }
    results.push_back(std::move(j));
  }
  double seconds = 0, ops = 0, cpu = 0, errors = 0, lo = 1e18, hi = 0, p99 = 0, p999 = 0, max = 0;
  std::vector<double> p50s;
  for (const auto& r : results) {
    double n = r["ops"].get<double>();
    seconds = std::max(seconds, r["seconds"].get<double>());
    ops += n;
    cpu += r["cpu_us_per_op"].get<double>() * n;
    errors += r["errors"].get<double>();
    lo = std::min(lo, n);
    hi = std::max(hi, n);
    p50s.push_back(r["p50_us"].get<double>());
    p99 = std::max(p99, r["p99_us"].get<double>());
    p999 = std::max(p999, r["p999_us"].get<double>());
    max = std::max(max, r["max_us"].get<double>());
  }
  std::sort(p50s.begin(), p50s.end());
  nlohmann::json j = {{"backend", results.front()["backend"]},
                      {"mode", "contended"},
                      {"processes", args.workers},
                      {"seconds", seconds},
                      {"ops", ops},
                      {"ops_per_s", ops / seconds},
                      {"p50_us", p50s[p50s.size() / 2]},
                      {"p99_us", p99},
                      {"p999_us", p999},
                      {"max_us", max},
                      {"cpu_us_per_op", ops > 0 ? cpu / ops : 0.0},
                      {"errors", errors},
                      {"worker_min", lo},
                      {"worker_max", hi}};
  if (args.json) {
    std::puts(j.dump().c_str());
  } else {
    std::fputs(FormatTable(fmt::format("dlock bench: contended on {}, {} processes, {:.1f} s",
                                       j["backend"].get<std::string>(), args.workers, seconds),
                           ResultRows(j, "acquisitions"))
                   .c_str(),
               stdout);
  }
  return errors == 0 ? kExitOk : kExitUnavailable;
}

// The durations of `dlock bench`, parsed.
struct BenchTimes {
  std::chrono::milliseconds duration;
  std::chrono::milliseconds ttl;
  std::chrono::milliseconds hold;
};

// Parses and checks the arguments, in the order their errors are reported.
Result<BenchTimes> ParseBenchArgs(const BenchArgs& args) {
  auto duration = ParseDurationOption("--duration", args.duration);
  if (!duration.ok()) return duration.status();
  auto ttl = ParseDurationOption("--ttl", args.ttl);
  if (!ttl.ok()) return ttl.status();
  auto hold = ParseDurationOption("--hold", args.hold);
  if (!hold.ok()) return hold.status();
  if (Status s = ValidateTtl(*ttl); !s.ok()) return s;
  if (duration->count() == 0) return InvalidArgumentError("--duration must be more than 0");
  if (args.mode != "seq" && args.mode != "conc" && args.mode != "contended" &&
      args.mode != "hold") {
    return InvalidArgumentError("--mode must be seq, conc, contended or hold");
  }
  if (args.locks < 1 || args.locks > 1000000) {
    return InvalidArgumentError("--locks must be from 1 to 1000000");
  }
  for (auto [option, value] :
       {std::pair{"--concurrency", args.concurrency}, std::pair{"--workers", args.workers}}) {
    if (value < 1 || value > 4096) {
      return InvalidArgumentError(fmt::format("{} must be from 1 to 4096", option));
    }
  }
  return BenchTimes{*duration, *ttl, *hold};
}

// --processes goes with --mode contended only, and not with --metrics-listen.
Status CheckProcesses(const Globals& globals, const BenchArgs& args) {
  if (args.mode != "contended") {
    return InvalidArgumentError("--processes goes with --mode contended");
  }
  if (!globals.metrics_listen.empty()) {
    // Each worker is a process of its own; none would serve the metrics.
    return InvalidArgumentError("--metrics-listen does not go with --processes");
  }
  return OkStatus();
}

// A thread's loop of --mode contended, until `stop`: acquire the one lock `name`,
// waiting up to a minute, hold it for `hold` and release it; the latency is the wait.
void ContendedLoop(Locker& locker, const std::string& name, std::chrono::milliseconds hold,
                   const std::atomic<bool>& stop, WorkerResult& r) {
  while (!stop) {
    auto t0 = Steady::now();
    auto lock = locker.Acquire(name, {.wait = std::chrono::seconds(60), .auto_renew = false});
    auto waited = Steady::now() - t0;
    if (!lock.ok()) {
      r.errors++;
      continue;
    }
    if (hold.count() > 0) std::this_thread::sleep_for(hold);
    if (!lock->Release().ok()) r.errors++;
    r.latencies_us.push_back(std::chrono::duration<double, std::micro>(waited).count());
    r.count.fetch_add(1, std::memory_order_relaxed);
  }
}

// Loop `t`'s thread in --mode seq or conc, until `stop`: acquire and release distinct
// names; the latency is the pair's. Each loop cycles through 1000 names, so a long run
// leaves at most 1000 fencing counters per loop in the store.
void DistinctNamesLoop(Locker& locker, const std::string& prefix, int t,
                       const std::atomic<bool>& stop, WorkerResult& r) {
  for (long i = 0; !stop; ++i) {
    auto t0 = Steady::now();
    auto lock = locker.Acquire(fmt::format("{}{}-{}", prefix, t, i % 1000), {.auto_renew = false});
    if (!lock.ok() || !lock->Release().ok()) {
      r.errors++;
      continue;
    }
    r.latencies_us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count());
    r.count.fetch_add(1, std::memory_order_relaxed);
  }
}

// A thread per loop (seq, contended, and conc without asynchronous calls), each filling
// its entry of `results`.
std::vector<std::thread> StartThreads(Locker& locker, const BenchArgs& args,
                                      const std::string& prefix, std::chrono::milliseconds hold,
                                      const std::atomic<bool>& stop,
                                      std::vector<WorkerResult>& results) {
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < results.size(); ++t) {
    WorkerResult& r = results[t];
    if (args.mode == "contended") {
      std::string name = args.lock.empty() ? prefix + "contended" : args.lock;
      pool.emplace_back([&locker, name = std::move(name), hold, &stop, &r] {
        ContendedLoop(locker, name, hold, stop, r);
      });
    } else {
      pool.emplace_back([&locker, &prefix, t = static_cast<int>(t), &stop, &r] {
        DistinctNamesLoop(locker, prefix, t, stop, r);
      });
    }
  }
  return pool;
}

// --mode conc over asynchronous calls: every loop, started from this thread.
std::vector<std::unique_ptr<AsyncLoop>> StartAsyncLoops(AsyncLoop::Shared& shared,
                                                        std::vector<WorkerResult>& results) {
  std::vector<std::unique_ptr<AsyncLoop>> loops;
  for (std::size_t t = 0; t < results.size(); ++t) {
    loops.push_back(std::make_unique<AsyncLoop>(&shared, static_cast<int>(t), &results[t]));
  }
  shared.running = static_cast<int>(loops.size());
  for (auto& loop : loops) loop->Next();
  return loops;
}

// Waits until `end`; on a terminal, unless `json`, with a progress line every second.
void WaitShowingProgress(Steady::time_point start, Steady::time_point end,
                         const std::vector<WorkerResult>& results, bool json) {
  const bool progress = ::isatty(STDERR_FILENO) && !json;
  while (Steady::now() < end) {
    std::this_thread::sleep_until(std::min(end, Steady::now() + std::chrono::seconds(1)));
    if (!progress) continue;
    std::size_t done = 0;
    for (const auto& r : results) done += r.count.load(std::memory_order_relaxed);
    double secs = std::chrono::duration<double>(Steady::now() - start).count();
    std::string line = fmt::format("\rdlock bench: {:.0f}s, {} ops, {:.0f} ops/s\033[K", secs, done,
                                   static_cast<double>(done) / secs);
    std::fputs(line.c_str(), stderr);
  }
  if (progress) std::fputs("\r\033[K", stderr);
}

// The result of --mode seq, conc or contended, from every loop's results: what --json
// prints.
nlohmann::json Summarize(const Context& ctx, const BenchArgs& args, bool async,
                         const std::vector<WorkerResult>& results, double elapsed, double cpu) {
  const int threads = static_cast<int>(results.size());
  std::vector<double> all;
  long errors = 0;
  std::size_t min_count = SIZE_MAX, max_count = 0;
  for (const auto& r : results) {
    all.insert(all.end(), r.latencies_us.begin(), r.latencies_us.end());
    errors += r.errors;
    min_count = std::min(min_count, r.latencies_us.size());
    max_count = std::max(max_count, r.latencies_us.size());
  }
  std::sort(all.begin(), all.end());
  const double ops = static_cast<double>(all.size()) / elapsed;
  nlohmann::json j = {
      {"backend", ctx.backend_redacted},
      {"mode", args.mode},
      {"threads", async ? 1 : threads},
      {"in_flight", threads},
      {"seconds", elapsed},
      {"ops", all.size()},
      {"ops_per_s", ops},
      {"p50_us", Percentile(all, 50)},
      {"p99_us", Percentile(all, 99)},
      {"p999_us", Percentile(all, 99.9)},
      {"max_us", all.empty() ? 0.0 : all.back()},
      {"cpu_us_per_op", all.empty() ? 0.0 : cpu * 1e6 / static_cast<double>(all.size())},
      {"errors", errors}};
  if (args.mode == "contended") {
    j["worker_min"] = min_count;
    j["worker_max"] = max_count;
  }
  return j;
}

// Prints the summary `j`: as it is with --json, else one line and the acquire-wait
// histogram.
void PrintSummary(const nlohmann::json& j, const Context& ctx, const BenchArgs& args, bool async) {
  if (args.json) {
    std::puts(j.dump().c_str());
    return;
  }
  const int threads = j["in_flight"].get<int>();
  const std::string how = async ? fmt::format("1 thread, {} loops asynchronous", threads)
                                : fmt::format("{} thread{}", threads, threads == 1 ? "" : "s");
  std::fputs(FormatTable(fmt::format("dlock bench: {} on {}, {}, {:.1f} s", args.mode,
                                     ctx.backend_redacted, how, j["seconds"].get<double>()),
                         ResultRows(j, args.mode == "contended" ? "acquisitions" : "pairs"))
                 .c_str(),
             stdout);
  std::fputs(WaitHistogram(ctx.registry.get()).c_str(), stdout);
}

}  // namespace

int BenchCommand(const Globals& globals, const BenchArgs& args) {
  auto times = ParseBenchArgs(args);
  if (!times.ok()) return Fail(times.status());
  int threads = args.mode == "seq" ? 1 : args.mode == "conc" ? args.concurrency : args.workers;
  if (args.processes) {
    if (Status s = CheckProcesses(globals, args); !s.ok()) return Fail(s);
    return BenchProcesses(globals, args);
  }
  // The hold is a sleep: without this, Linux lets it run up to 50us long (timer slack),
  // and the run would measure a longer hold than asked for.
  ::prctl(PR_SET_TIMERSLACK, 1UL);
  auto ctx = OpenContext(globals);
  if (!ctx.ok()) return Fail(ctx.status());
  if (args.mode == "hold") return BenchHold(*ctx, args, times->ttl, times->duration);
  Locker locker(ctx->backend, {.ttl = times->ttl, .listener = ctx->listener});
  const std::string prefix = "dlock-bench/" + NewOwnerId().substr(0, 8) + "/";

  std::vector<WorkerResult> results(static_cast<std::size_t>(threads));
  std::atomic<bool> stop{false};
  const double cpu_before = CpuSeconds();
  const auto start = Steady::now();
  // --mode conc where the backend has asynchronous calls: every loop from this thread.
  const bool async = args.mode == "conc" && ctx->backend->async() != nullptr;
  AsyncLoop::Shared shared{&locker, prefix, &stop};
  std::vector<std::unique_ptr<AsyncLoop>> loops;
  std::vector<std::thread> pool;
  if (async) {
    loops = StartAsyncLoops(shared, results);
  } else {
    pool = StartThreads(locker, args, prefix, times->hold, stop, results);
  }
  WaitShowingProgress(start, start + times->duration, results, args.json);
  stop = true;
  for (auto& th : pool) th.join();
  {
    std::unique_lock lock(shared.mu);
    shared.cv.wait(lock, [&] { return shared.running == 0; });
  }
  const double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
  const double cpu = CpuSeconds() - cpu_before;
  const nlohmann::json j = Summarize(*ctx, args, async, results, elapsed, cpu);
  PrintSummary(j, *ctx, args, async);
  return j["errors"].get<long>() == 0 ? kExitOk : kExitUnavailable;
}

}  // namespace dlock::cli
