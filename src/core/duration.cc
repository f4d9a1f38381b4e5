#include "dlock/duration.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdint>

namespace dlock {
namespace {

constexpr double kMaxMs = 1000.0 * 3600 * 1000;  // 1000 hours

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return InvalidArgumentError(
        fmt::format("invalid duration '{}': {}; use e.g. 250ms, 10s, 2m, 1h", text, why));
  };
  std::size_t i = 0;
  while (i < text.size() && IsDigit(text[i])) ++i;
  std::size_t int_digits = i;
  std::size_t frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i])) {
      ++i;
      ++frac_digits;
    }
    if (frac_digits == 0) return bad("a digit must follow the decimal point");
  }
  if (int_digits == 0 && frac_digits == 0) {
    if (!text.empty() && text[0] == '-') return bad("it is negative");
    return bad(text.empty() ? "it is empty" : "it does not start with a number");
  }
  std::string_view number = text.substr(0, i);
  std::string_view unit = text.substr(i);
  double unit_ms = 0;
  if (unit == "ms") {
    unit_ms = 1;
  } else if (unit.empty() || unit == "s") {
    unit_ms = 1000;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else {
    return bad(fmt::format("unknown unit '{}'", unit));
  }
  if (number.size() > 20) return bad("the number is too long");
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size()) return bad("not a number");
  double ms = value * unit_ms;
  if (!(ms <= kMaxMs)) return bad("it is longer than 1000h");
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(ms)));
}

std::string FormatDuration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return fmt::format("{}h", ms / 3'600'000);
  if (ms != 0 && ms % 60'000 == 0) return fmt::format("{}m", ms / 60'000);
  if (ms != 0 && ms % 1000 == 0) return fmt::format("{}s", ms / 1000);
  return fmt::format("{}ms", ms);
}

}  // namespace dlock
