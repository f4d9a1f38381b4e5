// record_format.h: a LockRecord as the text kept in a lock file.
//
//   dlock-lock 1
//   name jobs/nightly          (escaped with EscapeField)
//   token 17
//   owner 3f2a...               ('-' when free)
//   boot <kernel boot id>       (expiry below is on this boot's CLOCK_MONOTONIC)
//   expires_ns 123456789
//   ttl_ms 30000
//   host build-7                (escaped)
//   pid 4242
//   since_ms 1764163423123      (wall clock, for display)
//   queue o1@ns,o2@ns           (waiters in line, each with its expiry; '-' when none)
//   end
//
// Anything after "end" is ignored, so a longer old record overwritten in place by a
// shorter one stays readable even if the process dies before ftruncate.
//
// Thread-safety: pure functions.
#ifndef DLOCK_SRC_FILE_RECORD_FORMAT_H_
#define DLOCK_SRC_FILE_RECORD_FORMAT_H_

#include <string>
#include <string_view>

#include "core/lock_record.h"
#include "dlock/status.h"

namespace dlock::internal {

std::string SerializeRecord(const LockRecord& record, std::string_view boot_id);

// Parses `text` into `record`. A record written under another boot id has its holder
// cleared (every process of that boot is gone). kFailedPrecondition if malformed.
Status ParseRecord(std::string_view text, std::string_view boot_id, LockRecord& record);

}  // namespace dlock::internal

#endif  // DLOCK_SRC_FILE_RECORD_FORMAT_H_
