// dlock inspect NAME [--json]
#include <cstdio>

#include "cli/cli_context.h"
#include "cli/commands/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"

namespace dlock::cli {

int InspectCommand(const std::string& backend, const InspectArgs& args) {
  if (Status s = ValidateName(args.name); !s.ok()) return Fail(s);
  auto ctx = OpenContext(backend);
  if (!ctx.ok()) return Fail(ctx.status());
  auto state = ctx->backend->Inspect(args.name);
  if (!state.ok()) return Fail(state.status());
  std::fputs(FormatState(*state, ctx->backend_redacted, args.json).c_str(), stdout);
  return kExitOk;
}

}  // namespace dlock::cli
