// events.h: what a Locker tells the host application about its locks, so that a service
// can log, trace or count them (the CLI logs them; metrics adapters count them).
//
// Thread-safety: OnEvent is called from the acquiring thread and from the Locker's
// renewal and watchdog threads, possibly at once, and, for asynchronous calls, from the
// backend's I/O thread (where a slow listener holds up every call of that client);
// implementations must be thread-safe and quick (never block, never call back into the
// same Lock).
#ifndef DLOCK_EVENTS_H_
#define DLOCK_EVENTS_H_

#include <chrono>
#include <string_view>

#include "dlock/export.h"
#include "dlock/lease.h"
#include "dlock/status.h"

namespace dlock {

enum class EventKind {
  kWaiting,        // the first attempt found the lock held; the caller waits
  kAcquired,       // elapsed: time from asking to holding
  kAcquireFailed,  // status: contended, deadline-exceeded, unavailable, cancelled...
  kRenewed,        // elapsed: the renewal call's latency
  kRenewFailed,    // status: why; the Locker retries until the lease's validity runs out
  kLost,           // status: why; the lease ended while held (lost() fired)
  kReleased,       // elapsed: hold time; status: the release call's outcome
  kDetached,       // elapsed: hold time; Lock::Detach() left the lease held in the store
};

DLOCK_API std::string_view EventKindName(EventKind kind);

struct DLOCK_API Event {
  EventKind kind;
  std::string_view backend;  // Backend::kind()
  std::string_view name;     // the lock name
  FencingToken token = 0;    // 0 until acquired
  std::chrono::nanoseconds elapsed{0};
  Status status;  // OK unless said otherwise above
};

class DLOCK_API EventListener {
 public:
  virtual ~EventListener() = default;
  virtual void OnEvent(const Event& event) = 0;
};

}  // namespace dlock

#endif  // DLOCK_EVENTS_H_
