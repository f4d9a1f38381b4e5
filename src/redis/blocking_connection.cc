#include "redis/blocking_connection.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace dlock::redis {
namespace {

using Steady = std::chrono::steady_clock;

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

bool BlockingConnection::Poll(short events, Steady::time_point deadline) {
  while (true) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Steady::now());
    pollfd p{fd_, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count())));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // let the read or write report the error
  }
}

Status BlockingConnection::Ready() {
  if (fd_ >= 0) {
    // Idle: anything readable now is the server closing it (or a stray reply).
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) == 0) return OkStatus();
    Close();
  }
  return Connect();
}

Status BlockingConnection::Connect() {
  const auto deadline = Steady::now() + options_.connect_timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options_.port);
  if (int rc = ::getaddrinfo(options_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return UnavailableError(fmt::format("cannot resolve {}: {}", options_.host, gai_strerror(rc)));
  }
  std::string why = "no address";
  for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
    fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd_ < 0) {
      why = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd_, a->ai_addr, a->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      if (!Poll(POLLOUT, deadline)) {
        err = ETIMEDOUT;
      } else {
        socklen_t len = sizeof(err);
        ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
    if (err != 0) {
      why = err == ETIMEDOUT
                ? fmt::format("no answer within {}ms", options_.connect_timeout.count())
                : std::strerror(err);
      Close();
    }
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) return UnavailableError(fmt::format("cannot connect to {}: {}", endpoint(), why));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // From now on blocking, with command_timeout on each send and recv: one system call
  // per write and per read, where poll-then-read would take two.
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(options_.command_timeout);
  timeval limit{static_cast<time_t>(us.count() / 1000000),
                static_cast<suseconds_t>(us.count() % 1000000)};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit));
  parser_ = std::make_unique<ReplyParser>();
  // AUTH and SELECT first, as Connection does.
  std::vector<std::pair<std::string, std::vector<std::string>>> first;
  if (options_.password) {
    std::vector<std::string> auth = {"AUTH"};
    if (!options_.user.empty()) auth.push_back(options_.user);
    auth.push_back(*options_.password);
    first.emplace_back("AUTH", std::move(auth));
  }
  if (options_.db != 0)
    first.emplace_back("SELECT", std::vector<std::string>{"SELECT", std::to_string(options_.db)});
  for (const auto& [what, args] : first) {
    auto reply = Call(EncodeCommand(args));
    if (!reply.ok()) return reply.status();
    if (reply->is_error()) {
      Close();
      return FailedPreconditionError(
          fmt::format("{} on {} failed: {}", what, endpoint(), reply->str));
    }
  }
  return OkStatus();
}

Status BlockingConnection::Write(std::string_view data, Steady::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || Steady::now() >= deadline) {
      return Lost(fmt::format("no reply within {}ms", options_.command_timeout.count()));
    } else if (errno != EINTR) {
      return Lost(std::strerror(errno));
    }
  }
  return OkStatus();
}

Result<Reply> BlockingConnection::Read(Steady::time_point deadline) {
  while (true) {
    auto next = parser_->Next();
    if (!next.ok()) return Lost(next.status().message());
    if (*next) return std::move(**next);
    ssize_t n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (n > 0) {
      parser_->Feed(buffer_.data(), static_cast<std::size_t>(n));
    } else if (n == 0) {
      return Lost("the server closed the connection (if it is a TLS port, use rediss://)");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || Steady::now() >= deadline) {
      return Lost(fmt::format("no reply within {}ms", options_.command_timeout.count()));
    } else if (errno != EINTR) {
      return Lost(std::strerror(errno));
    }
  }
}

Result<Reply> BlockingConnection::Call(std::string_view wire) {
  if (fd_ < 0) return UnavailableError(fmt::format("{}: not connected", endpoint()));
  const auto deadline = Steady::now() + options_.command_timeout;
  DLOCK_RETURN_IF_ERROR(Write(wire, deadline));
  return Read(deadline);
}

}  // namespace dlock::redis
