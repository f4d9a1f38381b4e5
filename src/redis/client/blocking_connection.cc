#include "redis/client/blocking_connection.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dlock::redis {
namespace {

using Steady = std::chrono::steady_clock;

// Waits until the non-blocking connect on `fd` finishes or `deadline` passes; the
// connect's error (0: connected), or ETIMEDOUT.
int AwaitConnect(int fd, Steady::time_point deadline) {
  while (true) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Steady::now());
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
    if (n == 0) return ETIMEDOUT;
    if (n > 0 || errno != EINTR) break;
  }
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  return err;
}

void SetTimeouts(int fd, std::chrono::microseconds us) {
  us = std::max(us, std::chrono::microseconds(1));  // 0 would mean "no timeout"
  timeval limit{static_cast<time_t>(us.count() / 1000000),
                static_cast<suseconds_t>(us.count() % 1000000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
}

}  // namespace

BlockingConnection::BlockingConnection(ConnectionOptions options) : options_(std::move(options)) {}

BlockingConnection::~BlockingConnection() { Close(); }

std::string BlockingConnection::endpoint() const {
  return fmt::format("redis://{}:{}", options_.host, options_.port);
}

void BlockingConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status BlockingConnection::Lost(std::string why) {
  Close();
  return UnavailableError(fmt::format("{}: {}", endpoint(), why));
}

Status BlockingConnection::TimedOut() {
  return Lost(fmt::format("no reply within {}ms", options_.command_timeout.count()));
}

bool BlockingConnection::Usable() {
  if (fd_ < 0) return false;
  // Between commands: anything readable now is the server closing it (a restart, CLIENT
  // KILL, its idle `timeout`), or a stray reply. One poll() per lend; without it such a
  // command would fail as "may or may not have run".
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) == 0) return true;
  Close();
  return false;
}

Status BlockingConnection::Connect(const std::vector<asio::ip::tcp::endpoint>& addresses) {
  Close();
  const auto deadline = Steady::now() + options_.connect_timeout;
  std::string why = "no address";
  for (const auto& address : addresses) {
    const int family = address.protocol().family();
    fd_ = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      why = std::strerror(errno);
      continue;
    }
    int err =
        ::connect(fd_, address.data(), static_cast<socklen_t>(address.size())) == 0 ? 0 : errno;
    if (err == EINPROGRESS) err = AwaitConnect(fd_, deadline);
    if (err == 0) break;
    why = err == ETIMEDOUT ? fmt::format("no answer within {}ms", options_.connect_timeout.count())
                           : std::strerror(err);
    Close();
  }
  if (fd_ < 0) return UnavailableError(fmt::format("cannot connect to {}: {}", endpoint(), why));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // From now on blocking, with timeouts on send and recv: one system call per write and
  // per read, where poll-then-read would take two.
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  SetTimeouts(fd_, options_.command_timeout);
  shortened_ = false;
  parser_ = std::make_unique<ReplyParser>();
  for (const auto& step : HandshakeCommands(options_)) {
    auto reply = Call(step.wire);
    if (!reply.ok()) return reply.status();
    if (reply->is_error()) {
      Close();
      return FailedPreconditionError(
          fmt::format("{} on {} failed: {}", step.what, endpoint(), reply->str));
    }
  }
  return OkStatus();
}

bool BlockingConnection::Shorten(Steady::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Steady::now());
  if (left.count() <= 0) return false;
  SetTimeouts(fd_, left);
  shortened_ = true;
  return true;
}

Status BlockingConnection::Write(std::string_view data, Steady::time_point deadline) {
  while (true) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      if (data.empty()) return OkStatus();
      if (!Shorten(deadline)) return TimedOut();
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return TimedOut();
    } else if (errno != EINTR) {
      return Lost(std::strerror(errno));
    }
  }
}

Result<Reply> BlockingConnection::Read(Steady::time_point deadline) {
  bool first = true;
  while (true) {
    auto next = parser_->Next();
    if (!next.ok()) return Lost(next.status().message());
    if (*next) return std::move(**next);
    if (!first && !Shorten(deadline)) return TimedOut();
    first = false;
    ssize_t n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (n > 0) {
      parser_->Feed(buffer_.data(), static_cast<std::size_t>(n));
    } else if (n == 0) {
      return Lost("the server closed the connection (if it is a TLS port, use rediss://)");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return TimedOut();
    } else if (errno != EINTR) {
      return Lost(std::strerror(errno));
    }
  }
}

Result<Reply> BlockingConnection::Call(std::string_view wire) {
  if (fd_ < 0) return UnavailableError(fmt::format("{}: not connected", endpoint()));
  const auto start = Steady::now();
  if (shortened_) {
    SetTimeouts(fd_, options_.command_timeout);
    shortened_ = false;
  }
  const auto deadline = start + options_.command_timeout;
  DLOCK_RETURN_IF_ERROR(Write(wire, deadline));
  return Read(deadline);
}

}  // namespace dlock::redis
