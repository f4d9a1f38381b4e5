// dlock acquire NAME [--ttl D] [--wait D] [--json]: takes the lock and leaves it held
// (no renewal) after the process exits; prints the lease for a later extend/release.
// Not for session-bound stores (ZooKeeper), whose leases end with the process.
#include <fmt/format.h>

#include <cstdio>

#include "cli/cli_context.h"
#include "cli/commands/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "dlock/locker.h"

namespace dlock::cli {

int AcquireCommand(const Globals& globals, const AcquireArgs& args) {
  auto ttl = ParseDurationOption("--ttl", args.ttl);
  if (!ttl.ok()) return Fail(ttl.status());
  auto wait = ParseDurationOption("--wait", args.wait);
  if (!wait.ok()) return Fail(wait.status());
  if (Status s = ValidateName(args.name); !s.ok()) return Fail(s);
  if (Status s = ValidateTtl(*ttl); !s.ok()) return Fail(s);
  auto ctx = OpenContext(globals);
  if (!ctx.ok()) return Fail(ctx.status());
  if (ctx->backend->session_bound()) {
    return Fail(InvalidArgumentError(fmt::format(
        "{}:// locks live in this process's session and would end when dlock acquire exits; "
        "use dlock run NAME -- CMD",
        ctx->backend->kind())));
  }

  Locker locker(ctx->backend, {.ttl = *ttl, .listener = ctx->listener});
  auto lock = locker.Acquire(args.name, {.wait = *wait, .auto_renew = false});
  if (!lock.ok()) return Fail(lock.status());
  Lease lease = lock->Detach();
  std::fputs(FormatLease(lease, ctx->backend_redacted, args.json).c_str(), stdout);
  return kExitOk;
}

}  // namespace dlock::cli
