// Lock names: a valid name maps to one file name that stays in the lock directory, and
// the escaping used inside lock files round-trips any bytes.
#include "dlock/lease.h"
#include "file/name_encoding.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = AsText(data, size);
  std::string escaped = dlock::internal::EscapeField(text);
  std::string back;
  FUZZ_CHECK(dlock::internal::UnescapeField(escaped, back) && back == text);
  FUZZ_CHECK(escaped.find_first_of(" \n\t") == std::string::npos);
  if (!dlock::ValidateName(text).ok()) return 0;
  std::string file = dlock::internal::LockFileName(text);
  FUZZ_CHECK(!file.empty() && file.size() <= 200);
  FUZZ_CHECK(file.find('/') == std::string::npos && file.front() != '.');
  FUZZ_CHECK(file.find('\0') == std::string::npos);
  return 0;
}
