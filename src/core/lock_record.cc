#include "core/lock_record.h"

#include <fmt/format.h>

#include <algorithm>

namespace dlock::internal {

Status ValidateAcquireRequest(const AcquireRequest& request) {
  DLOCK_RETURN_IF_ERROR(ValidateName(request.name));
  DLOCK_RETURN_IF_ERROR(ValidateTtl(request.ttl));
  return ValidateOwnerId(request.owner_id);
}

Status ValidateLeaseForCall(const Lease& lease) {
  DLOCK_RETURN_IF_ERROR(ValidateName(lease.name));
  return ValidateOwnerId(lease.owner_id);
}

std::string DescribeHolder(const LockRecord& record) {
  if (record.holder.host.empty() && record.holder.pid == 0) {
    return fmt::format("another owner (token {})", record.token);
  }
  return fmt::format("host {} pid {} (token {})", record.holder.host, record.holder.pid,
                     record.token);
}

Result<FencingToken> RecordAcquire(LockRecord& record, const AcquireRequest& request, TimePoint now,
                                   FencingToken token_floor) {
  if (record.HeldAt(now)) {
    return ContendedError(
        fmt::format("lock '{}' is held by {}", request.name, DescribeHolder(record)));
  }
  record.name = request.name;
  record.token = std::max(record.token, token_floor) + 1;
  record.owner = request.owner_id;
  record.expires = now + request.ttl;
  record.ttl = request.ttl;
  record.holder = request.holder;
  return record.token;
}

namespace {

void Clear(LockRecord& record) {
  record.owner.clear();
  record.expires = {};
  record.ttl = std::chrono::milliseconds(0);
  record.holder = {};
}

// Clears an expired holder; true if `owner` holds the record at `now`.
bool OwnedBy(LockRecord& record, const std::string& owner, TimePoint now) {
  if (!record.owner.empty() && now >= record.expires) Clear(record);
  return !record.owner.empty() && record.owner == owner;
}

Status NotHeldBy(const LockRecord& record) {
  return NotHeldError(fmt::format("lock '{}' is not held by this owner", record.name));
}

}  // namespace

Status RecordExtend(LockRecord& record, const std::string& owner, std::chrono::milliseconds ttl,
                    TimePoint now) {
  if (!OwnedBy(record, owner, now)) return NotHeldBy(record);
  record.expires = now + ttl;
  record.ttl = ttl;
  return OkStatus();
}

Status RecordRelease(LockRecord& record, const std::string& owner, TimePoint now) {
  if (!OwnedBy(record, owner, now)) return NotHeldBy(record);
  Clear(record);
  return OkStatus();
}

Status RecordForceRelease(LockRecord& record, TimePoint now) {
  if (!record.HeldAt(now)) {
    Clear(record);
    return NotHeldError(fmt::format("lock '{}' is not held", record.name));
  }
  Clear(record);
  return OkStatus();
}

LockState RecordState(const LockRecord& record, TimePoint now) {
  LockState state;
  state.name = record.name;
  state.token = record.token;
  state.held = record.HeldAt(now);
  if (state.held) {
    state.remaining = std::chrono::ceil<std::chrono::milliseconds>(record.expires - now);
    state.holder = record.holder;
  }
  return state;
}

Lease RecordLease(const LockRecord& record, TimePoint start) {
  return Lease{record.name, record.owner, record.token, record.ttl, ValidUntil(start, record.ttl)};
}

}  // namespace dlock::internal
