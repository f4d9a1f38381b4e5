// Lock files: whatever bytes a lock file holds (torn, edited, from another version),
// parsing gives a record or an error, and a parsed record written again parses the same.
#include "file/record_format.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  dlock::internal::LockRecord record;
  if (!dlock::internal::ParseRecord(AsText(data, size), "boot", record).ok()) return 0;
  std::string text = dlock::internal::SerializeRecord(record, "boot");
  dlock::internal::LockRecord again;
  FUZZ_CHECK(dlock::internal::ParseRecord(text, "boot", again).ok());
  FUZZ_CHECK(dlock::internal::SerializeRecord(again, "boot") == text);
  return 0;
}
