// duration.h: durations as people write them: "250ms", "10s", "2m", "1h", "1.5s";
// a bare number is seconds.
//
// Thread-safety: pure functions.
#ifndef DLOCK_DURATION_H_
#define DLOCK_DURATION_H_

#include <chrono>
#include <string>
#include <string_view>

#include "dlock/export.h"
#include "dlock/status.h"

namespace dlock {

// Parses a non-negative duration, rounded to whole milliseconds. Units: ms, s, m, h.
// kInvalidArgument (naming the text) for anything else, for negative values and for
// values above 1000 hours.
DLOCK_API Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// The shortest exact form: "250ms", "10s", "2m", "1h", "1500ms".
DLOCK_API std::string FormatDuration(std::chrono::milliseconds duration);

}  // namespace dlock

#endif  // DLOCK_DURATION_H_
