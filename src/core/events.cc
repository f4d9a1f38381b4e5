#include "dlock/events.h"

namespace dlock {

std::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kWaiting: return "waiting";
    case EventKind::kAcquired: return "acquired";
    case EventKind::kAcquireFailed: return "acquire-failed";
    case EventKind::kRenewed: return "renewed";
    case EventKind::kRenewFailed: return "renew-failed";
    case EventKind::kLost: return "lost";
    case EventKind::kReleased: return "released";
    case EventKind::kDetached: return "detached";
  }
  return "unknown";
}

}  // namespace dlock
