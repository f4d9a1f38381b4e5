// Durations: any bytes parse or fail with one line; a parsed duration is never negative
// and formats to a text that parses back to it.
#include "dlock/duration.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto d = dlock::ParseDuration(AsText(data, size));
  if (!d.ok()) {
    FUZZ_CHECK(d.status().message().find('\n') == std::string::npos);
    return 0;
  }
  FUZZ_CHECK(d->count() >= 0);
  auto back = dlock::ParseDuration(dlock::FormatDuration(*d));
  FUZZ_CHECK(back.ok() && *back == *d);
  return 0;
}
