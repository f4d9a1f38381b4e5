// prometheus.h: dlock's metrics for Prometheus, from the Locker's events. A separate
// target (dlock_prometheus, on Debian's prometheus-cpp), so the core needs no metrics
// library. Pass the listener as LockerOptions::listener (or fan it out with others).
//
// Metrics (all labelled by `backend`, the Backend::kind()):
//   dlock_acquire_wait_seconds{result}  histogram: asking to holding, or to giving up
//   dlock_acquire_total{result}         acquired|contended|timeout|unavailable|cancelled|error
//   dlock_hold_seconds                  histogram: acquired to released, lost or detached
//   dlock_renew_total{result}           ok|error
//   dlock_renew_latency_seconds         histogram of renewal calls
//   dlock_lost_total                    leases lost while held
//   dlock_held                          gauge: leases held now
// Lock names are not labels unless allow-listed: they are unbounded.
//
// Thread-safety: the listener is thread-safe.
#ifndef DLOCK_PROMETHEUS_H_
#define DLOCK_PROMETHEUS_H_

#include <memory>
#include <string>
#include <vector>

#include "dlock/events.h"
#include "dlock/export.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace dlock {

struct DLOCK_API PrometheusOptions {
  // Lock names that get a `lock` label of their own; every other name is counted under
  // lock="other". Empty (the default): no `lock` label at all.
  std::vector<std::string> lock_label_allow_list;
};

// The metrics live in `registry`, which the caller exposes (prometheus::Exposer) or reads.
DLOCK_API std::shared_ptr<EventListener> MakePrometheusListener(
    std::shared_ptr<prometheus::Registry> registry, PrometheusOptions options = {});

// Calls each listener in turn; null entries are skipped.
DLOCK_API std::shared_ptr<EventListener> FanOut(
    std::vector<std::shared_ptr<EventListener>> listeners);

}  // namespace dlock

#endif  // DLOCK_PROMETHEUS_H_
