#include "cli/exit_codes.h"

namespace dlock::cli {

int ExitCodeFor(Code code) {
  switch (code) {
    case Code::kOk: return kExitOk;
    case Code::kNotHeld: return kExitNotHeld;
    case Code::kContended:
    case Code::kDeadlineExceeded:
    case Code::kCancelled: return kExitNotAcquired;
    case Code::kUnavailable:
    case Code::kFailedPrecondition: return kExitUnavailable;
    case Code::kInvalidArgument:
    case Code::kUnimplemented: return kExitUsage;
    case Code::kInternal: return kExitSoftware;
    case Code::kStale: return kExitStale;
  }
  return kExitSoftware;
}

}  // namespace dlock::cli
