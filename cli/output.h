// output.h: how the CLI prints leases and lock states, as text for people and as JSON
// (one object per line) for scripts. Never prints passwords; prints an owner id only
// where the user asked for the lease (acquire).
#ifndef DLOCK_CLI_OUTPUT_H_
#define DLOCK_CLI_OUTPUT_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dlock/lease.h"

namespace dlock::cli {

// Text: shell assignments, so that `eval "$(dlock acquire NAME)"` sets them.
std::string FormatLease(const Lease& lease, const std::string& backend, bool json);

// Text: one line such as "jobs/nightly: held by host h pid 7 since ..., token 5, 12.3s left".
std::string FormatState(const LockState& state, const std::string& backend, bool json);

// A result table, as `dlock bench` prints it at the end (as redis-benchmark does): the
// title on a line, then one line per row, "  LABEL  VALUE" with the labels padded to one
// width. Ends with a newline.
using TableRows = std::vector<std::pair<std::string, std::string>>;
std::string FormatTable(std::string_view title, const TableRows& rows);

// A count with thousands separators: 1234567.4 -> "1,234,567" (rounded; negatives keep
// their sign).
std::string Grouped(double n);

// RFC 3339 UTC with milliseconds, e.g. "2026-11-26T16:03:44.123Z".
std::string FormatTime(std::chrono::system_clock::time_point t);

}  // namespace dlock::cli

#endif  // DLOCK_CLI_OUTPUT_H_
