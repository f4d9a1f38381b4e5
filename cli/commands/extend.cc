// dlock extend NAME --owner ID [--ttl D]: resets the remaining TTL of a lock held by ID.
#include "cli/cli_context.h"
#include "cli/commands/commands.h"
#include "cli/exit_codes.h"

namespace dlock::cli {

int ExtendCommand(const Globals& globals, const ExtendArgs& args) {
  auto ttl = ParseDurationOption("--ttl", args.ttl);
  if (!ttl.ok()) return Fail(ttl.status());
  for (const Status& s :
       {ValidateName(args.name), ValidateTtl(*ttl), ValidateOwnerId(args.owner)}) {
    if (!s.ok()) return Fail(s);
  }
  auto ctx = OpenContext(globals);
  if (!ctx.ok()) return Fail(ctx.status());
  Lease lease{.name = args.name, .owner_id = args.owner};
  auto extended = ctx->backend->Extend(lease, *ttl);
  if (!extended.ok()) return Fail(extended.status());
  return kExitOk;
}

}  // namespace dlock::cli
