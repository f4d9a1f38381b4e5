#include "dlock/uri.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace dlock {
namespace {

constexpr std::string_view kExample = "e.g. file:///var/lib/dlock or redis://127.0.0.1:6379";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view in, std::string_view part) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    int hi = i + 2 < in.size() ? HexValue(in[i + 1]) : -1;
    int lo = hi >= 0 ? HexValue(in[i + 2]) : -1;
    if (lo < 0) {
      return InvalidArgumentError(fmt::format("bad percent-escape in the URI's {}", part));
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

bool Unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string PercentEncode(std::string_view in, std::string_view also_keep) {
  std::string out;
  for (char c : in) {
    if (Unreserved(c) || also_keep.find(c) != std::string_view::npos) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

bool ValidHostChar(char c) { return Unreserved(c) && c != '~'; }

Result<HostPort> ParseHostPort(std::string_view text) {
  HostPort hp;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgumentError(fmt::format("host '{}' has '[' without ']'", text));
    }
    hp.host = std::string(text.substr(1, close - 1));
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return InvalidArgumentError(fmt::format("bad host '{}'", text));
      port = rest.substr(1);
      if (port.empty()) return InvalidArgumentError(fmt::format("empty port in '{}'", text));
    }
    bool ok = !hp.host.empty() && std::all_of(hp.host.begin(), hp.host.end(), [](char c) {
      return HexValue(c) >= 0 || c == ':' || c == '.';
    });
    if (!ok) return InvalidArgumentError(fmt::format("bad IPv6 address '{}'", text));
  } else {
    auto colon = text.rfind(':');
    hp.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      if (port.empty()) return InvalidArgumentError(fmt::format("empty port in '{}'", text));
    }
    if (hp.host.empty()) {
      return InvalidArgumentError(fmt::format("empty host in '{}'", text));
    }
    if (!std::all_of(hp.host.begin(), hp.host.end(), ValidHostChar)) {
      return InvalidArgumentError(fmt::format("bad host name '{}'", hp.host));
    }
  }
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return InvalidArgumentError(
          fmt::format("bad port '{}': it must be a number from 1 to 65535", port));
    }
    hp.port = static_cast<std::uint16_t>(value);
  }
  return hp;
}

// Moves ?drift_factor= and ?drift_ms=, which every backend takes, out of `query`.
Status TakeDrift(std::map<std::string, std::string>& query, DriftMargin& drift) {
  if (auto it = query.find("drift_factor"); it != query.end()) {
    const std::string& v = it->second;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), drift.factor);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
      return InvalidArgumentError(
          fmt::format("drift_factor takes a number such as 0.01, not '{}'", v));
    }
    query.erase(it);
  }
  if (auto it = query.find("drift_ms"); it != query.end()) {
    const std::string& v = it->second;
    std::int64_t ms = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (v.empty() || ec != std::errc() || end != v.data() + v.size()) {
      return InvalidArgumentError(
          fmt::format("drift_ms takes a whole number of milliseconds, not '{}'", v));
    }
    drift.fixed = std::chrono::milliseconds(ms);
    query.erase(it);
  }
  return ValidateDriftMargin(drift);
}

Status ParseQuery(std::string_view query, std::map<std::string, std::string>& out) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    auto key = PercentDecode(item.substr(0, eq), "options");
    if (!key.ok()) return key.status();
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = PercentDecode(item.substr(eq + 1), "options");
      if (!v.ok()) return v.status();
      value = std::move(*v);
    }
    if (key->empty()) return InvalidArgumentError("an option in the URI has no name");
    if (!out.emplace(*key, std::move(value)).second) {
      return InvalidArgumentError(fmt::format("option '{}' is given twice", *key));
    }
  }
  return OkStatus();
}

Result<BackendUri> Parse(std::string_view text) {
  BackendUri uri;
  auto sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return InvalidArgumentError(fmt::format("expected SCHEME://..., {}", kExample));
  }
  for (char c : text.substr(0, sep)) {
    char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    bool ok = (lower >= 'a' && lower <= 'z') ||
              (!uri.scheme.empty() &&
               ((lower >= '0' && lower <= '9') || lower == '+' || lower == '-' || lower == '.'));
    if (!ok) return InvalidArgumentError(fmt::format("bad scheme '{}'", text.substr(0, sep)));
    uri.scheme += lower;
  }
  std::string_view rest = text.substr(sep + 3);
  if (rest.find('#') != std::string_view::npos) {
    return InvalidArgumentError("fragments ('#') are not allowed in a backend URI");
  }
  auto qmark = rest.find('?');
  if (qmark != std::string_view::npos) {
    DLOCK_RETURN_IF_ERROR(ParseQuery(rest.substr(qmark + 1), uri.query));
    DLOCK_RETURN_IF_ERROR(TakeDrift(uri.query, uri.drift));
    rest = rest.substr(0, qmark);
  }

  if (uri.scheme == "file") {
    if (rest.starts_with("localhost/")) rest.remove_prefix(9);
    auto path = PercentDecode(rest, "path");
    if (!path.ok()) return path.status();
    if (path->empty()) {
      return InvalidArgumentError("file:// needs a directory, e.g. file:///var/lib/dlock");
    }
    if (path->find('\0') != std::string::npos) {
      return InvalidArgumentError("the directory path contains a NUL byte");
    }
    uri.path = std::move(*path);
    return uri;
  }

  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    auto path = PercentDecode(rest.substr(slash), "path");
    if (!path.ok()) return path.status();
    uri.path = std::move(*path);
  }
  auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto colon = userinfo.find(':');
    auto user = PercentDecode(userinfo.substr(0, colon), "user name");
    if (!user.ok()) return user.status();
    uri.user = std::move(*user);
    if (colon != std::string_view::npos) {
      // Never echo the password, not even in an error.
      auto password = PercentDecode(userinfo.substr(colon + 1), "password");
      if (!password.ok()) return InvalidArgumentError("bad percent-escape in the URI's password");
      uri.password = std::move(*password);
    }
  }
  if (authority.empty()) {
    return InvalidArgumentError(
        fmt::format("{}:// needs a host, e.g. {}://127.0.0.1:PORT", uri.scheme, uri.scheme));
  }
  while (true) {
    auto comma = authority.find(',');
    auto hp = ParseHostPort(authority.substr(0, comma));
    if (!hp.ok()) return hp.status();
    uri.hosts.push_back(std::move(*hp));
    if (comma == std::string_view::npos) break;
    authority = authority.substr(comma + 1);
  }
  return uri;
}

}  // namespace

Result<BackendUri> ParseBackendUri(std::string_view text) {
  auto uri = Parse(text);
  if (uri.ok()) return uri;
  // Every message says it is about the backend URI; none repeats the password.
  return InvalidArgumentError(fmt::format("bad backend URI: {}", uri.status().message()));
}

std::string BackendUri::Redacted() const {
  std::string out = scheme + "://";
  if (scheme == "file") {
    out += PercentEncode(path, "/");
  } else {
    if (!user.empty() || password) {
      out += PercentEncode(user, "");
      if (password) out += ":***";
      out += '@';
    }
    for (std::size_t i = 0; i < hosts.size(); ++i) {
      if (i) out += ',';
      bool v6 = hosts[i].host.find(':') != std::string::npos;
      out += v6 ? "[" + hosts[i].host + "]" : hosts[i].host;
      if (hosts[i].port) out += fmt::format(":{}", hosts[i].port);
    }
    out += PercentEncode(path, "/");
  }
  char sep = '?';
  for (const auto& [key, value] : query) {
    out += sep;
    sep = '&';
    out += PercentEncode(key, "");
    out += '=';
    // ?password= and the like (redis+sentinel://'s ?sentinel_password=).
    const bool secret = key == "password" || key.ends_with("_password");
    out += secret ? "***" : PercentEncode(value, "/");
  }
  return out;
}

}  // namespace dlock
