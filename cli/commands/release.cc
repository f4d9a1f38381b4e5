// dlock release NAME --owner ID | --force

#include "cli/cli_context.h"
#include "cli/commands/commands.h"
#include "cli/exit_codes.h"

namespace dlock::cli {

int ReleaseCommand(const Globals& globals, const ReleaseArgs& args) {
  if (args.force == args.owner.has_value()) {
    return Fail(InvalidArgumentError("release needs exactly one of --owner ID and --force"));
  }
  if (Status s = ValidateName(args.name); !s.ok()) return Fail(s);
  if (!args.force) {
    if (Status s = ValidateOwnerId(*args.owner); !s.ok()) return Fail(s);
  }
  auto ctx = OpenContext(globals);
  if (!ctx.ok()) return Fail(ctx.status());
  if (args.force) {
    Status s = ctx->backend->ForceRelease(args.name);
    if (!s.ok()) return Fail(s);
    return kExitOk;
  }
  Status s = ctx->backend->Release(Lease{.name = args.name, .owner_id = *args.owner});
  if (!s.ok()) return Fail(s);
  return kExitOk;
}

}  // namespace dlock::cli
