#include "file/name_encoding.h"

#include <fmt/format.h>

#include <cstdint>

namespace dlock::internal {
namespace {

bool Plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

std::uint64_t Fnv1a(std::string_view data, std::uint64_t basis) {
  std::uint64_t h = basis;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string LockFileName(std::string_view name) {
  constexpr std::size_t kMaxEncoded = 200 - 5;  // room for ".lock"
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (Plain(c) || (c == '.' && i > 0)) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  if (out.size() > kMaxEncoded) {
    out.resize(150);
    // Do not cut an escape in half.
    auto pct = out.rfind('%');
    if (pct != std::string::npos && pct + 3 > out.size()) out.resize(pct);
    out += fmt::format("~{:016x}{:016x}", Fnv1a(name, 0xcbf29ce484222325ULL),
                       Fnv1a(name, 0x84222325cbf29ce4ULL));
  }
  return out + ".lock";
}

std::string EscapeField(std::string_view raw) {
  std::string out;
  for (char c : raw) {
    if (Plain(c) || c == '.' || c == '/') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

bool UnescapeField(std::string_view escaped, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '%') {
      out += escaped[i];
      continue;
    }
    if (i + 2 >= escaped.size()) return false;
    int hi = Hex(escaped[i + 1]);
    int lo = Hex(escaped[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

}  // namespace dlock::internal
