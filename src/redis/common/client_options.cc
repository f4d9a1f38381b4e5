#include "redis/common/client_options.h"

#include <fmt/format.h>

#include <cstdio>
#include <memory>

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

}  // namespace

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

}  // namespace dlock::redis
