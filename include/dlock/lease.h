// lease.h: what a granted lock is (Lease), what a store says about a lock (LockState),
// and the rules every backend applies to names, TTLs and owner ids.
//
// See docs/semantics.md for what each backend guarantees about these values.
// Thread-safety: plain values; the functions are thread-safe.
#ifndef DLOCK_LEASE_H_
#define DLOCK_LEASE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dlock/export.h"
#include "dlock/status.h"

namespace dlock {

// Strictly increases per lock name across all holders (see semantics.md per backend).
// Hand it to the protected resource so that it can reject a stale holder.
using FencingToken = std::uint64_t;

// Who holds a lock, for humans: stored with the lock where the store can keep it.
struct DLOCK_API HolderInfo {
  std::string host;  // gethostname()
  std::int64_t pid = 0;
  std::chrono::system_clock::time_point since{};  // wall clock, for display only

  // This process: host name, pid, and now.
  static HolderInfo ThisProcess();
};

// One successful acquisition. A plain value: copyable, cheap to pass around.
struct DLOCK_API Lease {
  std::string name;
  // 128 bits from the OS CSPRNG, as 32 lower-case hex digits; proves ownership to
  // Extend and Release. Secret: never log it.
  std::string owner_id;
  FencingToken token = 0;
  std::chrono::milliseconds ttl{0};
  // Local and conservative: counted from before the request was sent, minus the clock
  // drift allowance (ClockDrift). Past it, the holder must assume the lock is gone.
  std::chrono::steady_clock::time_point valid_until{};
};

// What a store says about a lock name (Backend::Inspect). Never contains the owner id.
struct DLOCK_API LockState {
  std::string name;
  bool held = false;
  // The current holder's token when held, otherwise the last one issued (0: never).
  FencingToken token = 0;
  std::chrono::milliseconds remaining{0};  // TTL left, when held
  HolderInfo holder;                       // when held and the store keeps it
  int waiters = -1;                        // processes waiting for it; -1: the store can't tell
};

// Lock names: 1 to kMaxNameLength bytes, no control characters (bytes < 0x20, 0x7f).
// Any other byte, '/' and '..' included, is allowed; backends encode names safely.
inline constexpr std::size_t kMaxNameLength = 512;
DLOCK_API Status ValidateName(std::string_view name);

// TTLs: from kMinTtl to kMaxTtl inclusive.
inline constexpr std::chrono::milliseconds kMinTtl{10};
inline constexpr std::chrono::milliseconds kMaxTtl = std::chrono::hours(24);
DLOCK_API Status ValidateTtl(std::chrono::milliseconds ttl);

// Owner ids as written by NewOwnerId: 1 to 128 characters of [0-9A-Za-z_-].
DLOCK_API Status ValidateOwnerId(std::string_view owner_id);

// A new owner id: 16 bytes from getrandom(2), hex encoded. Aborts only if the kernel's
// CSPRNG fails, which it does not once the system has booted.
DLOCK_API std::string NewOwnerId();

// The margin for clock drift that every lease's validity leaves out: factor x TTL plus
// a fixed part. The default is the Redis distlock page's, 1% of the TTL plus 2 ms. It
// covers this host's steady clock running at another rate than the clock the store
// expires keys by, during one lease; not a clock that jumps, nor a process paused past
// its lease (fencing tokens cover those: docs/semantics.md). Every backend takes it as
// ?drift_factor=0.01&drift_ms=2 (BackendUri::drift) or in its options struct.
struct DLOCK_API DriftMargin {
  double factor = 0.01;                // of the TTL: 0 to kMaxDriftFactor
  std::chrono::milliseconds fixed{2};  // 0 to kMaxDriftFixed
};
inline constexpr double kMaxDriftFactor = 0.5;
inline constexpr std::chrono::milliseconds kMaxDriftFixed{60'000};
// kInvalidArgument, naming the part, unless factor is a number from 0 to
// kMaxDriftFactor and fixed is from 0 to kMaxDriftFixed.
DLOCK_API Status ValidateDriftMargin(const DriftMargin& margin);

// The margin for a lease of `ttl`: floor(factor x ttl) + fixed.
DLOCK_API std::chrono::milliseconds ClockDrift(std::chrono::milliseconds ttl,
                                               const DriftMargin& margin = {});

// start + ttl - ClockDrift(ttl, margin), where `start` was read before the request was
// sent. Before `start` itself if the margin is not less than the TTL (Locker refuses such
// a TTL: kInvalidArgument).
DLOCK_API std::chrono::steady_clock::time_point ValidUntil(
    std::chrono::steady_clock::time_point start, std::chrono::milliseconds ttl,
    const DriftMargin& margin = {});

}  // namespace dlock

#endif  // DLOCK_LEASE_H_
