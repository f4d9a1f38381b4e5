#include "dlock/lease.h"

#include <fmt/format.h>
#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/lease_rules.h"

namespace dlock {

HolderInfo HolderInfo::ThisProcess() {
  HolderInfo info;
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) == 0) info.host = host.data();
  info.pid = getpid();
  info.since = std::chrono::system_clock::now();
  return info;
}

Status ValidateName(std::string_view name) {
  if (name.empty()) return InvalidArgumentError("lock name is empty");
  if (name.size() > kMaxNameLength) {
    return InvalidArgumentError(
        fmt::format("lock name is {} bytes long; the limit is {}", name.size(), kMaxNameLength));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return InvalidArgumentError(
          fmt::format("lock name contains a control character (0x{:02x})", c));
    }
  }
  return OkStatus();
}

Status ValidateTtl(std::chrono::milliseconds ttl) {
  if (ttl < kMinTtl || ttl > kMaxTtl) {
    return InvalidArgumentError(fmt::format(
        "TTL {}ms is out of range; it must be between {}ms and {}h", ttl.count(), kMinTtl.count(),
        std::chrono::duration_cast<std::chrono::hours>(kMaxTtl).count()));
  }
  return OkStatus();
}

Status ValidateOwnerId(std::string_view owner_id) {
  if (owner_id.empty() || owner_id.size() > 128) {
    return InvalidArgumentError("owner id must be 1 to 128 characters");
  }
  for (char c : owner_id) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_';
    if (!ok) return InvalidArgumentError("owner id may contain only [0-9A-Za-z_-]");
  }
  return OkStatus();
}

std::string NewOwnerId() {
  std::array<unsigned char, 16> bytes{};
  std::size_t got = 0;
  while (got < bytes.size()) {
    ssize_t n = getrandom(bytes.data() + got, bytes.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fputs("dlock: getrandom(2) failed; cannot make an owner id\n", stderr);
      std::abort();
    }
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * bytes.size(), '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return out;
}

Status ValidateDriftMargin(const DriftMargin& margin) {
  // Written so that NaN fails too.
  if (!(margin.factor >= 0 && margin.factor <= kMaxDriftFactor)) {
    return InvalidArgumentError(fmt::format("drift factor {} is not a number from 0 to {}",
                                            margin.factor, kMaxDriftFactor));
  }
  if (margin.fixed.count() < 0 || margin.fixed > kMaxDriftFixed) {
    return InvalidArgumentError(fmt::format("drift of {} ms is not from 0 to {} ms",
                                            margin.fixed.count(), kMaxDriftFixed.count()));
  }
  return OkStatus();
}

std::chrono::milliseconds ClockDrift(std::chrono::milliseconds ttl, const DriftMargin& margin) {
  // The small epsilon keeps floor(0.01 x 700) at 7 despite binary rounding.
  const double part = std::floor(static_cast<double>(ttl.count()) * margin.factor + 1e-6);
  return std::chrono::milliseconds(static_cast<std::int64_t>(part)) + margin.fixed;
}

std::chrono::steady_clock::time_point ValidUntil(std::chrono::steady_clock::time_point start,
                                                 std::chrono::milliseconds ttl,
                                                 const DriftMargin& margin) {
  return start + ttl - ClockDrift(ttl, margin);
}

namespace internal {

Status ValidateAcquireRequest(const AcquireRequest& request) {
  DLOCK_RETURN_IF_ERROR(ValidateName(request.name));
  DLOCK_RETURN_IF_ERROR(ValidateTtl(request.ttl));
  return ValidateOwnerId(request.owner_id);
}

Status ValidateLeaseForCall(const Lease& lease) {
  DLOCK_RETURN_IF_ERROR(ValidateName(lease.name));
  return ValidateOwnerId(lease.owner_id);
}

std::chrono::system_clock::time_point WallClockFromMs(std::int64_t ms) {
  constexpr std::int64_t kMax = 4'102'444'800'000;  // 2100-01-01; the clock overflows in 2262
  if (ms < 0 || ms > kMax) return {};
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

}  // namespace internal

}  // namespace dlock
