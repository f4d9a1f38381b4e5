#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <chrono>

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

std::string AcquireResult(const Event& e) {
  if (e.kind == EventKind::kAcquired) return "acquired";
  switch (e.status.code()) {
    case Code::kContended: return "contended";
    case Code::kDeadlineExceeded: return "timeout";
    case Code::kUnavailable:
    case Code::kFailedPrecondition: return "unavailable";
    case Code::kCancelled: return "cancelled";
    default: return "error";
  }
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
    Labels base = {{"backend", std::string(e.backend)}};
    if (!options_.lock_label_allow_list.empty()) {
      const auto& allowed = options_.lock_label_allow_list;
      bool listed = std::find(allowed.begin(), allowed.end(), e.name) != allowed.end();
      base["lock"] = listed ? std::string(e.name) : "other";
    }
    auto with = [&](std::string key, std::string value) {
      Labels l = base;
      l[std::move(key)] = std::move(value);
      return l;
    };
    switch (e.kind) {
      case EventKind::kWaiting: break;
      case EventKind::kAcquired:
      case EventKind::kAcquireFailed: {
        std::string result = AcquireResult(e);
        wait_.Add(with("result", result), WaitBuckets()).Observe(Seconds(e.elapsed));
        acquire_.Add(with("result", result)).Increment();
        if (e.kind == EventKind::kAcquired) held_.Add(base).Increment();
        break;
      }
      case EventKind::kRenewed:
      case EventKind::kRenewFailed:
        renew_.Add(with("result", e.kind == EventKind::kRenewed ? "ok" : "error")).Increment();
        renew_latency_.Add(base, WaitBuckets()).Observe(Seconds(e.elapsed));
        break;
      case EventKind::kLost: lost_.Add(base).Increment(); [[fallthrough]];
      case EventKind::kReleased:
      case EventKind::kDetached:
        hold_.Add(base, HoldBuckets()).Observe(Seconds(e.elapsed));
        held_.Add(base).Decrement();
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
