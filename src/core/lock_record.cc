#include "core/lock_record.h"

#include <fmt/format.h>

#include <algorithm>

namespace dlock::internal {

std::string DescribeHolder(const LockRecord& record) {
  if (record.holder.host.empty() && record.holder.pid == 0) {
    return fmt::format("another owner (token {})", record.token);
  }
  return fmt::format("host {} pid {} (token {})", record.holder.host, record.holder.pid,
                     record.token);
}

namespace {

void DropStaleWaiters(LockRecord& record, TimePoint now) {
  std::erase_if(record.queue, [&](const QueuedWaiter& w) { return w.expires <= now; });
}

void JoinQueue(LockRecord& record, const std::string& owner, TimePoint now) {
  for (auto& w : record.queue) {
    if (w.owner == owner) {
      // Renew only when half the lease is gone: every change wakes all waiters (inotify),
      // and a renewal on every wake-up would wake them all again, without end.
      if (w.expires - now < kWaiterLease / 2) w.expires = now + kWaiterLease;
      return;
    }
  }
  record.queue.push_back({owner, now + kWaiterLease});
}

}  // namespace

Result<FencingToken> RecordAcquire(LockRecord& record, const AcquireRequest& request, TimePoint now,
                                   FencingToken token_floor) {
  DropStaleWaiters(record, now);
  const bool first_in_line = record.queue.empty() || record.queue.front().owner == request.owner_id;
  if (record.HeldAt(now) || !first_in_line) {
    if (request.queue) JoinQueue(record, request.owner_id, now);
    if (record.HeldAt(now)) {
      return ContendedError(
          fmt::format("lock '{}' is held by {}", request.name, DescribeHolder(record)));
    }
    return ContendedError(fmt::format("lock '{}' is about to go to the first of {} waiters",
                                      request.name, record.queue.size()));
  }
  if (!record.queue.empty()) record.queue.erase(record.queue.begin());
  record.name = request.name;
  record.token = std::max(record.token, token_floor) + 1;
  record.owner = request.owner_id;
  record.expires = now + request.ttl;
  record.ttl = request.ttl;
  record.holder = request.holder;
  return record.token;
}

bool RecordLeaveQueue(LockRecord& record, std::string_view owner) {
  return std::erase_if(record.queue, [&](const QueuedWaiter& w) { return w.owner == owner; }) > 0;
}

bool RecordMustWait(const LockRecord& record, TimePoint now, std::string_view waiter) {
  if (record.HeldAt(now)) return true;
  for (const auto& w : record.queue) {
    if (w.expires <= now) continue;
    return w.owner != waiter;  // the first live waiter is next
  }
  return false;
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
  state.waiters =
      static_cast<int>(std::count_if(record.queue.begin(), record.queue.end(),
                                     [&](const QueuedWaiter& w) { return w.expires > now; }));
  state.token = record.token;
  state.held = record.HeldAt(now);
  if (state.held) {
    state.remaining = std::chrono::ceil<std::chrono::milliseconds>(record.expires - now);
    state.holder = record.holder;
  }
  return state;
}

Lease RecordLease(const LockRecord& record, TimePoint start, const DriftMargin& drift) {
  return Lease{record.name, record.owner, record.token, record.ttl,
               ValidUntil(start, record.ttl, drift)};
}

}  // namespace dlock::internal
