#include "redis/client/connection.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/ssl.h>

#include <algorithm>

namespace dlock::redis {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

constexpr milliseconds kFirstRetryDelay{100};
constexpr milliseconds kMaxRetryDelay{2000};

bool IsCertificateError(const asio::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
}

}  // namespace

std::vector<HandshakeCommand> HandshakeCommands(const ConnectionOptions& options) {
  std::vector<HandshakeCommand> steps;
  if (options.password) {
    std::vector<std::string> auth = {"AUTH"};
    if (!options.user.empty()) auth.push_back(options.user);
    auth.push_back(*options.password);
    steps.push_back({"authentication", EncodeCommand(auth)});
  }
  if (options.db != 0) {
    steps.push_back({"SELECT", EncodeCommand({"SELECT", std::to_string(options.db)})});
  }
  return steps;
}

Connection::Connection(asio::io_context& io, ConnectionOptions options,
                       std::function<void(const Reply&)> push,
                       std::function<void(const Status&)> down)
    : io_(io),
      options_(std::move(options)),
      push_(std::move(push)),
      down_(std::move(down)),
      resolver_(io),
      connect_timer_(io),
      stall_timer_(io) {}

Connection::~Connection() {
  asio::error_code ignored;
  if (stream_) stream_->next_layer().close(ignored);
}

std::string Connection::endpoint() const {
  return fmt::format("{}{}:{}", options_.tls ? "rediss://" : "redis://", options_.host,
                     options_.port);
}

bool Connection::Send(std::string wire, ReplyCallback done) {
  if (state_ == State::kFailed && Steady::now() < retry_after_) {
    if (done) done(last_error_);
    return false;
  }
  queued_.push_back({std::move(wire), std::move(done), {}});
  if (state_ == State::kIdle || state_ == State::kFailed) {
    Connect();
  } else if (state_ == State::kReady) {
    Flush();
  }
  return true;
}

void Connection::Connect() {
  state_ = State::kConnecting;
  const std::uint64_t gen = ++generation_;
  retired_ = std::move(stream_);
  stream_ = std::make_unique<Stream>(io_, options_.tls ? *options_.tls : plain_context_);
  parser_ = std::make_unique<ReplyParser>();
  connect_timer_.expires_after(options_.connect_timeout);
  connect_timer_.async_wait([this, gen](const asio::error_code& ec) {
    if (ec || gen != generation_ || state_ != State::kConnecting) return;
    Fail(UnavailableError(fmt::format("cannot connect to {}: no answer within {}ms", endpoint(),
                                      options_.connect_timeout.count())));
  });
  resolver_.async_resolve(
      options_.host, std::to_string(options_.port),
      [this, gen](const asio::error_code& ec, asio::ip::tcp::resolver::results_type results) {
        if (gen != generation_) return;
        if (ec) {
          return Fail(
              UnavailableError(fmt::format("cannot resolve {}: {}", options_.host, ec.message())));
        }
        asio::async_connect(
            stream_->next_layer(), results,
            [this, gen](const asio::error_code& ec2, const asio::ip::tcp::endpoint&) {
              if (gen != generation_) return;
              if (ec2) {
                return Fail(UnavailableError(
                    fmt::format("cannot connect to {}: {}", endpoint(), ec2.message())));
              }
              asio::error_code ignored;
              stream_->next_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
              // Asio opens sockets without SOCK_CLOEXEC: keep them out of children
              // (dlock run's command must not inherit an authenticated connection).
              ::fcntl(stream_->next_layer().native_handle(), F_SETFD, FD_CLOEXEC);
              if (!options_.tls) return OnConnected();
              SSL_set_tlsext_host_name(stream_->native_handle(), options_.host.c_str());
              if (options_.verify_host) {
                stream_->set_verify_callback(asio::ssl::host_name_verification(options_.host));
              }
              stream_->async_handshake(Stream::client, [this, gen](const asio::error_code& ec3) {
                if (gen != generation_) return;
                if (!ec3) return OnConnected();
                std::string message =
                    fmt::format("TLS handshake with {} failed: {}", endpoint(), ec3.message());
                if (IsCertificateError(ec3)) {
                  return Fail(FailedPreconditionError(
                      message + " (use ?cacert=PATH to trust its CA, or ?insecure=true)"));
                }
                Fail(UnavailableError(message + " (is it a TLS port?)"));
              });
            });
      });
}

void Connection::OnConnected() {
  connect_timer_.cancel();
  state_ = State::kReady;
  retry_delay_ = milliseconds(0);
  // AUTH and SELECT go first, ahead of anything queued.
  auto check = [this](std::string what) {
    return [this, what](Result<Reply> r) {
      if (!r.ok()) return;  // the connection failed; already reported
      if (r->is_error()) {
        Fail(FailedPreconditionError(fmt::format("{} on {} failed: {}", what, endpoint(), r->str)));
      }
    };
  };
  std::vector<Item> first;
  for (auto& step : HandshakeCommands(options_)) {
    first.push_back({std::move(step.wire), check(step.what), {}});
  }
  for (auto it = first.rbegin(); it != first.rend(); ++it) queued_.push_front(std::move(*it));
  Read();
  Flush();
}

void Connection::Flush() {
  if (writing_ || state_ != State::kReady || queued_.empty()) return;
  write_buffer_.clear();
  const auto now = Steady::now();
  while (!queued_.empty()) {
    Item& item = queued_.front();
    write_buffer_ += item.wire;
    if (item.done) {
      item.sent = now;
      item.wire.clear();
      inflight_.push_back(std::move(item));
    }
    queued_.pop_front();
  }
  writing_ = true;
  const std::uint64_t gen = generation_;
  WithStream([&](auto& stream) {
    asio::async_write(stream, asio::buffer(write_buffer_),
                      [this, gen](const asio::error_code& ec, std::size_t) {
                        if (gen != generation_) return;
                        writing_ = false;
                        if (ec) {
                          return Fail(UnavailableError(
                              fmt::format("writing to {} failed: {}", endpoint(), ec.message())));
                        }
                        Flush();
                      });
  });
  ArmStallTimer();
}

void Connection::Read() {
  const std::uint64_t gen = generation_;
  WithStream([&](auto& stream) {
    stream.async_read_some(
        asio::buffer(read_buffer_), [this, gen](const asio::error_code& ec, std::size_t n) {
          if (gen != generation_) return;
          if (ec) {
            std::string why = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                                  ? "the server closed the connection"
                                  : ec.message();
            return Fail(UnavailableError(
                fmt::format("{}: {}{}", endpoint(), why,
                            options_.tls ? "" : " (if it is a TLS port, use rediss://)")));
          }
          parser_->Feed(read_buffer_.data(), n);
          while (gen == generation_) {
            auto reply = parser_->Next();
            if (!reply.ok()) {
              return Fail(
                  UnavailableError(fmt::format("{}: {}", endpoint(), reply.status().message())));
            }
            if (!*reply) break;
            Dispatch(std::move(**reply));
          }
          if (gen == generation_) Read();
        });
  });
}

void Connection::Dispatch(Reply reply) {
  // A subscriber's error reply with nothing in flight answers a SUBSCRIBE sent without a
  // callback (a sharded one refused: MOVED, CLUSTERDOWN): the push handler's to handle.
  if (push_ && (reply.type == Reply::Type::kArray || (reply.is_error() && inflight_.empty()))) {
    push_(reply);
    return;
  }
  if (inflight_.empty()) {
    return Fail(UnavailableError(fmt::format("{}: a reply nobody asked for", endpoint())));
  }
  Item item = std::move(inflight_.front());
  inflight_.pop_front();
  item.done(std::move(reply));
}

void Connection::ArmStallTimer() {
  if (stall_armed_ || inflight_.empty()) return;
  stall_armed_ = true;
  const std::uint64_t gen = generation_;
  stall_timer_.expires_at(inflight_.front().sent + options_.command_timeout);
  stall_timer_.async_wait([this, gen](const asio::error_code& ec) {
    if (ec || gen != generation_) return;
    stall_armed_ = false;
    if (!inflight_.empty() && Steady::now() >= inflight_.front().sent + options_.command_timeout) {
      return Fail(UnavailableError(
          fmt::format("{}: no reply within {}ms", endpoint(), options_.command_timeout.count())));
    }
    ArmStallTimer();
  });
}

void Connection::Fail(Status status) {
  ++generation_;
  state_ = State::kFailed;
  writing_ = false;
  stall_armed_ = false;
  last_error_ = status;
  retry_delay_ = std::clamp(retry_delay_ * 2, kFirstRetryDelay, kMaxRetryDelay);
  retry_after_ = Steady::now() + retry_delay_;
  connect_timer_.cancel();
  stall_timer_.cancel();
  resolver_.cancel();
  if (stream_) {
    asio::error_code ignored;
    stream_->next_layer().close(ignored);
  }
  std::deque<Item> failed;
  failed.swap(inflight_);
  for (auto& item : queued_) failed.push_back(std::move(item));
  queued_.clear();
  for (auto& item : failed) {
    if (item.done) item.done(status);
  }
  if (down_) down_(status);
}

}  // namespace dlock::redis
