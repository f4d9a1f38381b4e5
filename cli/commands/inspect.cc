// dlock inspect NAME [--json] [--watch]
#include <cstdio>
#include <optional>
#include <thread>

#include "cli/cli_context.h"
#include "cli/commands/commands.h"
#include "cli/exit_codes.h"
#include "cli/output.h"

namespace dlock::cli {
namespace {

bool SameLock(const LockState& a, const LockState& b) {
  return a.held == b.held && a.token == b.token && a.waiters == b.waiters &&
         a.holder.host == b.holder.host && a.holder.pid == b.holder.pid;
}

}  // namespace

int InspectCommand(const Globals& globals, const InspectArgs& args) {
  if (Status s = ValidateName(args.name); !s.ok()) return Fail(s);
  auto ctx = OpenContext(globals);
  if (!ctx.ok()) return Fail(ctx.status());
  std::optional<LockState> last;
  while (true) {
    auto state = ctx->backend->Inspect(args.name);
    if (!state.ok()) return Fail(state.status());
    if (!last || !SameLock(*last, *state)) {
      std::fputs(FormatState(*state, ctx->backend_redacted, args.json).c_str(), stdout);
      std::fflush(stdout);
    }
    if (!args.watch) return kExitOk;
    last = *state;
    // Woken by a release where the store can; otherwise, and while free, look again
    // every quarter of a second.
    auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
    if (!state->held || !ctx->backend->WaitForRelease(args.name, next, {}).ok()) {
      std::this_thread::sleep_until(next);
    }
  }
}

}  // namespace dlock::cli
