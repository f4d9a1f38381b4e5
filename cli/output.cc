#include "cli/output.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

namespace dlock::cli {
namespace {

// Single-quotes a value for POSIX shells.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

std::string FormatTime(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

std::string FormatLease(const Lease& lease, const std::string& backend, bool json) {
  if (json) {
    nlohmann::json j = {{"name", lease.name},
                        {"owner", lease.owner_id},
                        {"fencing_token", lease.token},
                        {"ttl_ms", lease.ttl.count()},
                        {"backend", backend}};
    return j.dump() + "\n";
  }
  return fmt::format("DLOCK_NAME={}\nDLOCK_OWNER={}\nDLOCK_FENCING_TOKEN={}\nDLOCK_TTL_MS={}\n",
                     ShellQuote(lease.name), lease.owner_id, lease.token, lease.ttl.count());
}

std::string FormatState(const LockState& state, const std::string& backend, bool json) {
  if (json) {
    nlohmann::json j = {{"name", state.name},
                        {"held", state.held},
                        {"fencing_token", state.token},
                        {"backend", backend}};
    if (state.waiters >= 0) j["waiters"] = state.waiters;
    if (state.held) {
      j["ttl_ms"] = state.remaining.count();
      if (!state.holder.host.empty()) j["host"] = state.holder.host;
      if (state.holder.pid != 0) j["pid"] = state.holder.pid;
      if (state.holder.since.time_since_epoch().count() != 0) {
        j["since"] = FormatTime(state.holder.since);
      }
    }
    return j.dump() + "\n";
  }
  if (!state.held) {
    return state.token == 0
               ? fmt::format("{}: free (never held)\n", state.name)
               : fmt::format("{}: free (last fencing token {})\n", state.name, state.token);
  }
  std::string who;
  if (!state.holder.host.empty()) who += fmt::format(" by host {}", state.holder.host);
  if (state.holder.pid != 0) who += fmt::format(" pid {}", state.holder.pid);
  if (state.holder.since.time_since_epoch().count() != 0) {
    who += fmt::format(" since {}", FormatTime(state.holder.since));
  }
  std::string waiting =
      state.waiters > 0 ? fmt::format(", {} waiting", state.waiters) : std::string();
  return fmt::format("{}: held{}, fencing token {}, {:.1f}s left{}\n", state.name, who, state.token,
                     static_cast<double>(state.remaining.count()) / 1000.0, waiting);
}

std::string FormatTable(std::string_view title, const TableRows& rows) {
  std::size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  std::string out = fmt::format("{}\n", title);
  for (const auto& [label, value] : rows) {
    out += fmt::format("  {:<{}}  {}\n", label, width, value);
  }
  return out;
}

std::string Grouped(double n) {
  const std::string digits = fmt::format("{:.0f}", std::fabs(n));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n <= -0.5 ? "-" : "") + out;
}

}  // namespace dlock::cli
