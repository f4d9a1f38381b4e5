#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "dlock/prometheus.h"

namespace dlock {
namespace {

using prometheus::Labels;

const prometheus::Histogram::BucketBoundaries& WaitBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return b;
}

const prometheus::Histogram::BucketBoundaries& HoldBuckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400};
  return b;
}

// The values of the acquisitions' "result" label; AcquireResult indexes them.
constexpr std::array<const char*, 6> kAcquireResults = {"acquired",    "contended", "timeout",
                                                        "unavailable", "cancelled", "error"};
std::size_t AcquireResult(const Event& e) {
  if (e.kind == EventKind::kAcquired) return 0;
  switch (e.status.code()) {
    case Code::kContended: return 1;
    case Code::kDeadlineExceeded: return 2;
    case Code::kUnavailable:
    case Code::kFailedPrecondition: return 3;
    case Code::kCancelled: return 4;
    default: return 5;
  }
}

// The metric of `family` with `labels`, looked up once and kept in `slot`
// (Family::Add builds a metric on every call, even one that exists).
template <class T, class... Args>
T& Series(T*& slot, prometheus::Family<T>& family, const Labels& labels, const Args&... args) {
  if (slot == nullptr) slot = &family.Add(labels, args...);
  return *slot;
}

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

class PrometheusListener final : public EventListener {
 public:
  PrometheusListener(std::shared_ptr<prometheus::Registry> registry, PrometheusOptions options)
      : registry_(std::move(registry)),
        options_(std::move(options)),
        wait_(prometheus::BuildHistogram()
                  .Name("dlock_acquire_wait_seconds")
                  .Help("Time from asking for a lock to holding it or giving up")
                  .Register(*registry_)),
        acquire_(prometheus::BuildCounter()
                     .Name("dlock_acquire_total")
                     .Help("Lock acquisitions by result")
                     .Register(*registry_)),
        hold_(prometheus::BuildHistogram()
                  .Name("dlock_hold_seconds")
                  .Help("Time from acquiring a lock to releasing, losing or detaching it")
                  .Register(*registry_)),
        renew_(prometheus::BuildCounter()
                   .Name("dlock_renew_total")
                   .Help("Lease renewals by result")
                   .Register(*registry_)),
        renew_latency_(prometheus::BuildHistogram()
                           .Name("dlock_renew_latency_seconds")
                           .Help("Latency of lease renewal calls")
                           .Register(*registry_)),
        lost_(prometheus::BuildCounter()
                  .Name("dlock_lost_total")
                  .Help("Leases lost while held")
                  .Register(*registry_)),
        held_(prometheus::BuildGauge()
                  .Name("dlock_held")
                  .Help("Leases held now")
                  .Register(*registry_)) {}

  void OnEvent(const Event& e) override {
    std::string_view lock;  // the "lock" label, if there is one
    if (!options_.lock_label_allow_list.empty()) {
      const auto& allowed = options_.lock_label_allow_list;
      lock = std::find(allowed.begin(), allowed.end(), e.name) != allowed.end()
                 ? std::string_view(e.name)
                 : std::string_view("other");
    }
    std::lock_guard guard(mu_);
    std::string key(e.backend);
    if (!lock.empty()) (key += '\n') += lock;
    auto [it, added] = series_.try_emplace(std::move(key));
    Known& known = it->second;
    if (added) {
      known.base = {{"backend", std::string(e.backend)}};
      if (!lock.empty()) known.base["lock"] = std::string(lock);
    }
    auto with_result = [&](std::string result) {
      Labels l = known.base;
      l["result"] = std::move(result);
      return l;
    };
    switch (e.kind) {
      case EventKind::kWaiting: break;
      case EventKind::kAcquired:
      case EventKind::kAcquireFailed: {
        const std::size_t r = AcquireResult(e);
        if (known.wait[r] == nullptr) {
          Labels l = with_result(kAcquireResults[r]);
          Series(known.wait[r], wait_, l, WaitBuckets());
          Series(known.acquire[r], acquire_, l);
        }
        known.wait[r]->Observe(Seconds(e.elapsed));
        known.acquire[r]->Increment();
        if (e.kind == EventKind::kAcquired) Series(known.held, held_, known.base).Increment();
        break;
      }
      case EventKind::kRenewed:
      case EventKind::kRenewFailed: {
        const bool ok = e.kind == EventKind::kRenewed;
        Series(known.renew[ok ? 0 : 1], renew_, with_result(ok ? "ok" : "error")).Increment();
        Series(known.renew_latency, renew_latency_, known.base, WaitBuckets())
            .Observe(Seconds(e.elapsed));
        break;
      }
      case EventKind::kLost: Series(known.lost, lost_, known.base).Increment(); [[fallthrough]];
      case EventKind::kReleased:
      case EventKind::kDetached:
        Series(known.hold, hold_, known.base, HoldBuckets()).Observe(Seconds(e.elapsed));
        Series(known.held, held_, known.base).Decrement();
        break;
    }
  }

 private:
  const std::shared_ptr<prometheus::Registry> registry_;
  const PrometheusOptions options_;
  prometheus::Family<prometheus::Histogram>& wait_;
  prometheus::Family<prometheus::Counter>& acquire_;
  prometheus::Family<prometheus::Histogram>& hold_;
  prometheus::Family<prometheus::Counter>& renew_;
  prometheus::Family<prometheus::Histogram>& renew_latency_;
  prometheus::Family<prometheus::Counter>& lost_;
  prometheus::Family<prometheus::Gauge>& held_;
  // The series of one label set (backend, and lock with an allow list), found once.
  struct Known {
    Labels base;
    std::array<prometheus::Histogram*, kAcquireResults.size()> wait{};
    std::array<prometheus::Counter*, kAcquireResults.size()> acquire{};
    std::array<prometheus::Counter*, 2> renew{};  // ok, error
    prometheus::Histogram* renew_latency = nullptr;
    prometheus::Histogram* hold = nullptr;
    prometheus::Counter* lost = nullptr;
    prometheus::Gauge* held = nullptr;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Known> series_;  // guarded by mu_, by backend and lock
};

class FanOutListener final : public EventListener {
 public:
  explicit FanOutListener(std::vector<std::shared_ptr<EventListener>> listeners)
      : listeners_(std::move(listeners)) {}
  void OnEvent(const Event& e) override {
    for (const auto& l : listeners_) {
      if (l) l->OnEvent(e);
    }
  }

 private:
  const std::vector<std::shared_ptr<EventListener>> listeners_;
};

}  // namespace

std::shared_ptr<EventListener> MakePrometheusListener(
    std::shared_ptr<prometheus::Registry> registry, PrometheusOptions options) {
  return std::make_shared<PrometheusListener>(std::move(registry), std::move(options));
}

std::shared_ptr<EventListener> FanOut(std::vector<std::shared_ptr<EventListener>> listeners) {
  return std::make_shared<FanOutListener>(std::move(listeners));
}

}  // namespace dlock
