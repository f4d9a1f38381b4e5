#include "etcd/client.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <grpc/support/time.h>

#include <fstream>
#include <sstream>

namespace dlock::etcd {
namespace {

using Clock = std::chrono::steady_clock;

Result<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) return FailedPreconditionError(fmt::format("cannot read the {} file '{}'", what, path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A gRPC deadline `from_now` ahead on the monotonic clock. (A std::chrono::system_clock
// deadline is converted by gRPC at each use, so a wall-clock jump during a call, say from
// NTP, could end it at once or never.)
gpr_timespec Deadline(Clock::duration from_now) {
  return gpr_time_add(
      gpr_now(GPR_CLOCK_MONOTONIC),
      gpr_time_from_nanos(std::chrono::duration_cast<std::chrono::nanoseconds>(from_now).count(),
                          GPR_TIMESPAN));
}

bool IsIpv4(const std::string& endpoint) {
  auto colon = endpoint.rfind(':');
  in_addr addr{};
  return inet_pton(AF_INET, endpoint.substr(0, colon).c_str(), &addr) == 1;
}

}  // namespace

Result<std::unique_ptr<Client>> Client::Connect(const EtcdOptions& options) {
  std::unique_ptr<Client> client(new Client());
  client->options_ = options;
  if (options.endpoints.empty()) return InvalidArgumentError("etcd:// needs at least one host");
  if (options.endpoints.size() == 1) {
    client->target_ = options.endpoints.front();
  } else {
    // gRPC's ipv4: target lists several addresses and fails over between them.
    client->target_ = "ipv4:";
    for (const auto& e : options.endpoints) {
      if (!IsIpv4(e)) {
        return InvalidArgumentError(fmt::format(
            "etcd:// with several hosts takes IPv4 addresses only; '{}' is not one", e));
      }
      if (client->target_.size() > 5) client->target_ += ',';
      client->target_ += e;
    }
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.cacert.empty()) {
      auto ca = ReadFile(options.cacert, "cacert");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (!options.cert.empty()) {
      auto cert = ReadFile(options.cert, "cert");
      if (!cert.ok()) return cert.status();
      auto key = ReadFile(options.key, "key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    credentials = grpc::SslCredentials(ssl);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  // Notice a dead connection while a watch or the keep-alive stream is open. Not more
  // often, nor without calls: etcd answers pings every < 5 s, or with no call open, by
  // closing the connection ("too_many_pings").
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  client->channel_ = grpc::CreateCustomChannel(client->target_, credentials, args);
  client->kv_ = pb::KV::NewStub(client->channel_);
  client->lease_ = pb::Lease::NewStub(client->channel_);
  client->watch_ = pb::Watch::NewStub(client->channel_);
  client->auth_ = pb::Auth::NewStub(client->channel_);
  if (!client->channel_->WaitForConnected(Deadline(options.connect_timeout))) {
    return UnavailableError(
        fmt::format("no etcd server at {} answered within {}ms{}",
                    fmt::join(options.endpoints, ","), options.connect_timeout.count(),
                    options.tls ? " (TLS: is the server's certificate trusted?)" : ""));
  }
  if (!options.user.empty()) DLOCK_RETURN_IF_ERROR(client->Authenticate());
  Client* self = client.get();
  client->keep_alive_ = std::make_unique<KeepAliveStream>(client->lease_.get(), [self] {
    auto context = std::make_unique<grpc::ClientContext>();
    std::lock_guard lock(self->token_mu_);
    if (!self->token_.empty()) context->AddMetadata("token", self->token_);
    return context;
  });
  return client;
}

Client::~Client() { keep_alive_.reset(); }

std::unique_ptr<grpc::ClientContext> Client::Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(Deadline(options_.timeout));
  std::lock_guard lock(token_mu_);
  if (!token_.empty()) context->AddMetadata("token", token_);
  return context;
}

Status Client::Authenticate() {
  pb::AuthenticateRequest request;
  request.set_name(options_.user);
  request.set_password(options_.password.value_or(""));
  pb::AuthenticateResponse response;
  grpc::ClientContext context;
  context.set_deadline(Deadline(options_.timeout));
  grpc::Status status = auth_->Authenticate(&context, request, &response);
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
        status.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
        status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      return FailedPreconditionError(
          fmt::format("etcd at {} refused user '{}': {} (check the user and password)", target_,
                      options_.user, status.error_message()));
    }
    return FromGrpc(status, "authenticating");
  }
  std::lock_guard lock(token_mu_);
  token_ = response.token();
  return OkStatus();
}

Status Client::FromGrpc(const grpc::Status& status, const char* what) const {
  std::string message = fmt::format("etcd at {}: {}: {}", target_, what, status.error_message());
  switch (status.error_code()) {
    case grpc::StatusCode::OK: return OkStatus();
    case grpc::StatusCode::NOT_FOUND: return NotHeldError(std::move(message));
    case grpc::StatusCode::INVALID_ARGUMENT:
      // etcd says "user name is empty" or "authentication failed" this way.
      if (status.error_message().find("user") != std::string::npos ||
          status.error_message().find("auth") != std::string::npos) {
        return FailedPreconditionError(message + " (check the user and password)");
      }
      return InvalidArgumentError(std::move(message));
    case grpc::StatusCode::OUT_OF_RANGE: return InvalidArgumentError(std::move(message));
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return FailedPreconditionError(message + " (check the user, password and permissions)");
    case grpc::StatusCode::CANCELLED: return CancelledError(std::move(message));
    default: return UnavailableError(std::move(message));
  }
}

template <typename Response, typename Call>
Result<Response> Client::Unary(const char* what, Call call) {
  for (int attempt = 0;; ++attempt) {
    Response response;
    auto context = Context();
    grpc::Status status = call(context.get(), &response);
    if (status.ok()) return response;
    // Simple auth tokens expire; get a new one once.
    // (as etcd's Go client: a token from before an auth change says "revision of auth
    // store is old")
    const std::string& m = status.error_message();
    bool expired = status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                   m.find("invalid auth token") != std::string::npos ||
                   m.find("revision of auth store is old") != std::string::npos ||
                   m.find("user name is empty") != std::string::npos;
    if (attempt == 0 && expired && !options_.user.empty()) {
      DLOCK_RETURN_IF_ERROR(Authenticate());
      continue;
    }
    return FromGrpc(status, what);
  }
}

Result<pb::RangeResponse> Client::Range(const pb::RangeRequest& request) {
  return Unary<pb::RangeResponse>("range", [&](grpc::ClientContext* c, pb::RangeResponse* r) {
    return kv_->Range(c, request, r);
  });
}

Result<pb::TxnResponse> Client::Txn(const pb::TxnRequest& request) {
  return Unary<pb::TxnResponse>("transaction", [&](grpc::ClientContext* c, pb::TxnResponse* r) {
    return kv_->Txn(c, request, r);
  });
}

Result<pb::LeaseGrantResponse> Client::LeaseGrant(std::chrono::milliseconds ttl) {
  pb::LeaseGrantRequest request;
  request.set_ttl((ttl.count() + 999) / 1000);
  return Unary<pb::LeaseGrantResponse>("lease grant",
                                       [&](grpc::ClientContext* c, pb::LeaseGrantResponse* r) {
                                         return lease_->LeaseGrant(c, request, r);
                                       });
}

Status Client::LeaseRevoke(std::int64_t lease) {
  pb::LeaseRevokeRequest request;
  request.set_id(lease);
  return Unary<pb::LeaseRevokeResponse>("lease revoke",
                                        [&](grpc::ClientContext* c, pb::LeaseRevokeResponse* r) {
                                          return lease_->LeaseRevoke(c, request, r);
                                        })
      .status();
}

Result<std::chrono::milliseconds> Client::TimeToLive(std::int64_t lease) {
  pb::LeaseTimeToLiveRequest request;
  request.set_id(lease);
  auto got = Unary<pb::LeaseTimeToLiveResponse>(
      "lease time-to-live", [&](grpc::ClientContext* c, pb::LeaseTimeToLiveResponse* r) {
        return lease_->LeaseTimeToLive(c, request, r);
      });
  if (!got.ok()) return got.status();
  if (got->ttl() <= 0) return NotHeldError("etcd: the lease is gone");
  return std::chrono::milliseconds(got->ttl() * 1000);
}

Result<std::int64_t> Client::KeepAlive(std::int64_t lease) {
  return keep_alive_->KeepAlive(lease, options_.timeout);
}

Status Client::WaitForDelete(const std::string& key, const std::string& range_end,
                             std::int64_t revision, Clock::time_point deadline,
                             std::stop_token stop) {
  grpc::ClientContext context;
  // A member that has lost its leader cancels the watch instead of leaving us asleep.
  context.AddMetadata("hasleader", "true");
  {
    std::lock_guard lock(token_mu_);
    if (!token_.empty()) context.AddMetadata("token", token_);
  }
  if (deadline - Clock::now() < std::chrono::hours(24 * 365)) {
    context.set_deadline(Deadline(deadline - Clock::now()));
  }
  std::stop_callback cancel(stop, [&] { context.TryCancel(); });
  auto stream = watch_->Watch(&context);
  pb::WatchRequest request;
  auto* create = request.mutable_create_request();
  create->set_key(key);
  create->set_range_end(range_end);
  create->set_start_revision(revision);
  create->add_filters(pb::WatchCreateRequest::NOPUT);
  Status result = UnavailableError(fmt::format("etcd at {}: the watch ended", target_));
  if (stream->Write(request)) {
    pb::WatchResponse response;
    while (stream->Read(&response)) {
      if (response.canceled() || response.events_size() > 0) {
        result = OkStatus();  // deleted, or the history is compacted: look again
        break;
      }
    }
  }
  context.TryCancel();
  stream->Finish().ok();
  if (result.ok()) return result;
  if (stop.stop_requested()) return CancelledError("cancelled while waiting");
  if (Clock::now() >= deadline) return DeadlineExceededError("the lock was not released in time");
  return result;
}

}  // namespace dlock::etcd
