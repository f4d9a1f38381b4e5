#include "redis/common.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "core/lease_rules.h"
#include "dlock/duration.h"

namespace dlock::redis {
namespace {

Result<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const RedisOptions& o) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  asio::error_code ec;
  if (o.insecure) {
    std::fputs("dlock: warning: TLS certificate verification is off (insecure=true)\n", stderr);
    ctx->set_verify_mode(asio::ssl::verify_none, ec);
  } else {
    ctx->set_verify_mode(asio::ssl::verify_peer, ec);
    if (o.cacert.empty()) {
      ctx->set_default_verify_paths(ec);
    } else if (ctx->load_verify_file(o.cacert, ec); ec) {
      return InvalidArgumentError(fmt::format("cannot load cacert {}: {}", o.cacert, ec.message()));
    }
  }
  if (o.cert.empty() != o.key.empty()) {
    return InvalidArgumentError("TLS client authentication needs both cert= and key=");
  }
  if (!o.cert.empty()) {
    if (ctx->use_certificate_chain_file(o.cert, ec); ec) {
      return InvalidArgumentError(fmt::format("cannot load cert {}: {}", o.cert, ec.message()));
    }
    if (ctx->use_private_key_file(o.key, asio::ssl::context::pem, ec); ec) {
      return InvalidArgumentError(fmt::format("cannot load key {}: {}", o.key, ec.message()));
    }
  }
  return ctx;
}

Result<bool> ParseFlag(const std::string& key, const std::string& value) {
  if (value == "true" || value == "1" || value.empty()) return true;
  if (value == "false" || value == "0") return false;
  return InvalidArgumentError(fmt::format("option '{}' takes true or false, not '{}'", key, value));
}

}  // namespace

std::string LockKey(std::string_view prefix, std::string_view name, std::string_view suffix) {
  return fmt::format("{}{{{}}}{}", prefix, name, suffix);
}

std::int64_t ToInt(const Reply& r) {
  if (r.type == Reply::Type::kInteger) return r.integer;
  std::int64_t v = 0;
  std::from_chars(r.str.data(), r.str.data() + r.str.size(), v);
  return v;
}

Status ReplyError(const std::string& endpoint, const Reply& r) {
  std::string message = fmt::format("{}: {}", endpoint, r.str);
  if (r.str.starts_with("NOAUTH") || r.str.starts_with("WRONGPASS") ||
      r.str.starts_with("NOPERM")) {
    return FailedPreconditionError(message);
  }
  if (!r.is_error()) return InternalError(fmt::format("{}: unexpected reply", endpoint));
  return UnavailableError(message);
}

std::optional<InstanceState> ParseInspectReply(std::string_view name, const Reply& reply) {
  if (reply.elements.size() < 6) return std::nullopt;
  const auto& e = reply.elements;
  InstanceState out;
  out.state.name = std::string(name);
  out.counter = static_cast<FencingToken>(ToInt(e[5]));
  std::int64_t pttl = ToInt(e[0]);
  out.state.held = pttl > 0;
  out.state.token = out.state.held ? static_cast<FencingToken>(ToInt(e[1])) : out.counter;
  if (out.state.held) {
    using std::chrono::milliseconds;
    out.state.remaining = milliseconds(pttl);
    out.state.holder.host = e[2].str;
    out.state.holder.pid = ToInt(e[3]);
    out.state.holder.since = internal::WallClockFromMs(ToInt(e[4]));
  }
  return out;
}

Status ApplyUri(const BackendUri& uri, bool tls, RedisOptions& o,
                const std::vector<std::string>& extra_keys) {
  o.tls = tls;
  o.user = uri.user;
  o.password = uri.password;
  if (!uri.path.empty() && uri.path != "/") {
    std::string_view db(uri.path);
    db.remove_prefix(1);
    auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), o.db);
    if (ec != std::errc() || end != db.data() + db.size() || o.db < 0) {
      return InvalidArgumentError(fmt::format("bad database '{}': use /0, /1, ...", db));
    }
  }
  for (const auto& [key, value] : uri.query) {
    if (std::find(extra_keys.begin(), extra_keys.end(), key) != extra_keys.end()) {
      continue;
    } else if (key == "cacert" && o.tls) {
      o.cacert = value;
    } else if (key == "cert" && o.tls) {
      o.cert = value;
    } else if (key == "key" && o.tls) {
      o.key = value;
    } else if (key == "insecure" && o.tls) {
      auto flag = ParseFlag(key, value);
      if (!flag.ok()) return flag.status();
      o.insecure = *flag;
    } else if (key == "prefix") {
      o.prefix = value;
    } else if (key == "timeout" || key == "connect_timeout") {
      auto d = ParseDuration(value);
      if (!d.ok()) return d.status();
      if (d->count() <= 0) return InvalidArgumentError(fmt::format("{} must be positive", key));
      (key == "timeout" ? o.command_timeout : o.connect_timeout) = *d;
    } else if (key == "pool") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), o.pool_size);
      if (ec != std::errc() || end != value.data() + value.size() || o.pool_size < 1 ||
          o.pool_size > 64) {
        return InvalidArgumentError("pool must be a number from 1 to 64");
      }
    } else {
      return InvalidArgumentError(fmt::format(
          "unknown option '{}' for {}://; known: {}prefix, timeout, connect_timeout, pool", key,
          uri.scheme, o.tls ? "cacert, cert, key, insecure, " : ""));
    }
  }
  return OkStatus();
}

Result<ClientOptions> MakeClientOptions(const RedisOptions& o) {
  ClientOptions client_options;
  client_options.pool_size = o.pool_size;
  auto& c = client_options.connection;
  c.host = o.host;
  c.port = o.port;
  c.user = o.user;
  c.password = o.password;
  c.db = o.db;
  c.verify_host = !o.insecure;
  c.connect_timeout = o.connect_timeout;
  c.command_timeout = o.command_timeout;
  if (o.tls) {
    auto ctx = MakeTlsContext(o);
    if (!ctx.ok()) return ctx.status();
    c.tls = *ctx;
  }
  return client_options;
}

Status Ping(Client& client) {
  auto pong = client.Call({"PING"});
  if (!pong.ok()) return pong.status();
  if (pong->is_error()) return ReplyError(client.endpoint(), *pong);
  return OkStatus();
}

}  // namespace dlock::redis
