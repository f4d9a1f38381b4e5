#include "zookeeper/tls_bridge.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "zookeeper/hosts.h"
#include "zookeeper/local_peer.h"

namespace dlock::zk {

using asio::ip::tcp;
using Stream = asio::ssl::stream<tcp::socket>;

namespace {

// Asio opens and accepts sockets without SOCK_CLOEXEC: keep them out of children (dlock
// run's command must not inherit the listener or a connection).
void CloseOnExec(int fd) { ::fcntl(fd, F_SETFD, FD_CLOEXEC); }

Result<std::unique_ptr<asio::ssl::context>> MakeContext(const ZooKeeperOptions& o) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  asio::error_code ec;
  ctx->set_verify_mode(asio::ssl::verify_peer, ec);
  if (o.cacert.empty()) {
    ctx->set_default_verify_paths(ec);
  } else if (ctx->load_verify_file(o.cacert, ec); ec) {
    return InvalidArgumentError(
        fmt::format("cannot load zk:// cacert {}: {}", o.cacert, ec.message()));
  }
  if (o.cert.empty() != o.key.empty()) {
    return InvalidArgumentError("zk:// needs both cert= and key= for a client certificate");
  }
  if (!o.cert.empty()) {
    if (ctx->use_certificate_chain_file(o.cert, ec); ec) {
      return InvalidArgumentError(
          fmt::format("cannot load zk:// cert {}: {}", o.cert, ec.message()));
    }
    if (ctx->use_private_key_file(o.key, asio::ssl::context::pem, ec); ec) {
      return InvalidArgumentError(fmt::format("cannot load zk:// key {}: {}", o.key, ec.message()));
    }
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
      ERR_clear_error();
      return InvalidArgumentError(
          fmt::format("zk:// key {} is not the key of cert {}", o.key, o.cert));
    }
  }
  return ctx;
}

// OpenSSL's reason for the failure `ec` of a TLS connection (`ssl`: its handle, for the
// certificate check's own reason), and what to try.
std::string Reason(const asio::error_code& ec, SSL* ssl, bool have_cert) {
  if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof) {
    return "the server closed the connection in the TLS handshake (is it a TLS port?)";
  }
  if (ec.category() != asio::error::get_ssl_category()) return ec.message();
  const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
  std::string text = reason != nullptr ? reason : ec.message();
  long verified = SSL_get_verify_result(ssl);
  if (verified != X509_V_OK) {
    text += fmt::format(
        ": {} (is ?cacert= the CA of the server's certificate, and is the "
        "host in it?)",
        X509_verify_cert_error_string(verified));
  } else if (text.find("alert") != std::string::npos && !have_cert) {
    text += " (does the server require a client certificate? give ?cert=&key=)";
  } else if (text.find("wrong version number") != std::string::npos) {
    text += " (is it a TLS port?)";
  }
  return text;
}

}  // namespace

struct TlsBridge::Impl {
  std::unique_ptr<asio::ssl::context> ctx;  // before io: the streams go first
  std::vector<HostPort> hosts;
  std::chrono::milliseconds connect_timeout{};
  bool have_cert = false;
  std::string local_hosts;
  std::atomic<std::size_t> strangers{0};  // connections from other processes

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::unique_ptr<asio::steady_timer>> retry;  // after a failed accept

  std::mutex watchers_mu;  // held while a watcher is called
  std::uint64_t next_watcher = 0;
  std::map<std::uint64_t, FailureCallback> watchers;

  std::thread thread;

  void Accept(std::size_t host);
  void Report(std::size_t host, const Status& failure, bool refused) {
    std::lock_guard lock(watchers_mu);
    for (auto& [id, call] : watchers) call(host, failure, refused);
  }
};

namespace {

// One connection of the C client, carried over TLS to its host. Lives in its handlers;
// every handler runs on the bridge's one thread.
class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(TlsBridge::Impl& bridge, tcp::socket local, std::size_t host)
      : bridge_(bridge),
        host_(host),
        local_(std::move(local)),
        remote_(bridge.io, *bridge.ctx),
        resolver_(bridge.io),
        timer_(bridge.io) {}

  void Start() {
    const HostPort& hp = bridge_.hosts[host_];
    timer_.expires_after(bridge_.connect_timeout);
    timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec || self->closed_ || self->ready_) return;
      self->Fail(
          fmt::format("no TLS connection within {}ms", self->bridge_.connect_timeout.count()),
          false);
    });
    resolver_.async_resolve(
        hp.host, std::to_string(hp.port),
        [self = shared_from_this()](const asio::error_code& ec, tcp::resolver::results_type found) {
          if (self->closed_) return;
          if (ec) return self->Fail("cannot resolve it: " + ec.message(), false);
          self->Connect(found);
        });
  }

 private:
  void Connect(const tcp::resolver::results_type& found) {
    asio::async_connect(
        remote_.next_layer(), found,
        [self = shared_from_this()](const asio::error_code& ec, const tcp::endpoint&) {
          if (self->closed_) return;
          if (ec) return self->Fail(ec.message(), false);
          self->Handshake();
        });
  }

  void Handshake() {
    CloseOnExec(remote_.next_layer().native_handle());
    asio::error_code ignored;
    remote_.next_layer().set_option(tcp::no_delay(true), ignored);
    local_.set_option(tcp::no_delay(true), ignored);
    const std::string& host = bridge_.hosts[host_].host;
    SSL* ssl = remote_.native_handle();
    asio::error_code not_ip;
    asio::ip::make_address(host, not_ip);
    if (!not_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, host.c_str());
      SSL_set1_host(ssl, host.c_str());
    }
    remote_.async_handshake(Stream::client,
                            [self = shared_from_this()](const asio::error_code& ec) {
                              if (self->closed_) return;
                              if (ec) return self->Fail(ec);
                              self->ready_ = true;
                              self->timer_.cancel();
                              self->Pump(self->local_, self->remote_, self->up_, false);
                              self->Pump(self->remote_, self->local_, self->down_, true);
                            });
  }

  // Copies what `from` reads to `to` until either side ends. `from_server`: reading the
  // TLS side.
  template <class From, class To>
  void Pump(From& from, To& to, std::array<char, 16384>& buffer, bool from_server) {
    from.async_read_some(
        asio::buffer(buffer), [self = shared_from_this(), &from, &to, &buffer, from_server](
                                  const asio::error_code& ec, std::size_t n) {
          if (self->closed_) return;
          if (ec) return self->Ended(ec, from_server);
          if (from_server) self->answered_ = true;
          asio::async_write(
              to, asio::buffer(buffer.data(), n),
              [self, &from, &to, &buffer, from_server](const asio::error_code& ec2, std::size_t) {
                if (self->closed_) return;
                if (ec2) return self->Ended(ec2, !from_server);
                self->Pump(from, to, buffer, from_server);
              });
        });
  }

  // The connection ended (`ec`, on the server's side or ours). A server that ends it
  // before it answered anything refused us (a client certificate it wants, say): that is
  // a failure to report; any other end is the C client's business.
  void Ended(const asio::error_code& ec, bool server_side) {
    if (server_side && !answered_) {
      return Fail("the server ended the connection before answering: " +
                      Reason(ec, remote_.native_handle(), bridge_.have_cert),
                  true);
    }
    Close();
  }

  void Fail(const asio::error_code& ec) {
    Fail(Reason(ec, remote_.native_handle(), bridge_.have_cert), true);
  }

  // `refused`: TLS itself failed (the handshake, or the server's answer to it), which
  // trying again will not change; not a TCP connection that could not be made.
  void Fail(const std::string& reason, bool refused) {
    bridge_.Report(host_,
                   UnavailableError(fmt::format("TLS to ZooKeeper at {} failed: {}",
                                                bridge_.hosts[host_].ToString(), reason)),
                   refused);
    Close();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ignored;
    timer_.cancel();
    resolver_.cancel();
    local_.close(ignored);
    remote_.next_layer().close(ignored);
  }

  TlsBridge::Impl& bridge_;
  const std::size_t host_;
  tcp::socket local_;
  Stream remote_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::array<char, 16384> up_{};
  std::array<char, 16384> down_{};
  bool ready_ = false;     // the TLS handshake is done
  bool answered_ = false;  // the server has sent us something
  bool closed_ = false;
};

}  // namespace

void TlsBridge::Impl::Accept(std::size_t host) {
  acceptors[host]->async_accept([this, host](const asio::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {  // out of descriptors, say: try again a little later
      retry[host]->expires_after(std::chrono::milliseconds(100));
      retry[host]->async_wait([this, host](const asio::error_code& e) {
        if (!e) Accept(host);
      });
      return;
    }
    CloseOnExec(socket.native_handle());
    if (PeerIsThisProcess(socket.native_handle())) {
      std::make_shared<Link>(*this, std::move(socket), host)->Start();
    } else {
      ++strangers;
      asio::error_code ignored;
      socket.close(ignored);
    }
    Accept(host);
  });
}

TlsBridge::TlsBridge(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::shared_ptr<TlsBridge>> TlsBridge::Start(const ZooKeeperOptions& options) {
  if (!options.tls) return std::shared_ptr<TlsBridge>();
  auto impl = std::make_unique<Impl>();
  auto hosts = ParseHosts(options.hosts);
  if (!hosts.ok()) return hosts.status();
  impl->hosts = std::move(*hosts);
  auto ctx = MakeContext(options);
  if (!ctx.ok()) return ctx.status();
  impl->ctx = std::move(*ctx);
  impl->connect_timeout = options.connect_timeout;
  impl->have_cert = !options.cert.empty();
  for (std::size_t i = 0; i < impl->hosts.size(); ++i) {
    auto acceptor = std::make_unique<tcp::acceptor>(impl->io);
    asio::error_code ec;
    acceptor->open(tcp::v4(), ec);
    if (!ec) CloseOnExec(acceptor->native_handle());
    if (!ec) acceptor->bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0), ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return UnavailableError(fmt::format(
          "cannot listen on 127.0.0.1 for the TLS bridge to ZooKeeper: {}", ec.message()));
    }
    if (i > 0) impl->local_hosts += ',';
    impl->local_hosts += fmt::format("127.0.0.1:{}", acceptor->local_endpoint(ec).port());
    impl->acceptors.push_back(std::move(acceptor));
    impl->retry.push_back(std::make_unique<asio::steady_timer>(impl->io));
    impl->Accept(i);
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->io.run(); });
  return std::shared_ptr<TlsBridge>(new TlsBridge(std::move(impl)));
}

TlsBridge::~TlsBridge() {
  impl_->work.reset();
  impl_->io.stop();
  impl_->thread.join();
  // The links are destroyed with their handlers, never run, by io's destructor.
}

const std::string& TlsBridge::local_hosts() const { return impl_->local_hosts; }

std::size_t TlsBridge::host_count() const { return impl_->hosts.size(); }

std::size_t TlsBridge::refused() const { return impl_->strangers.load(); }

std::shared_ptr<void> TlsBridge::WatchFailures(FailureCallback on_failure) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(impl_->watchers_mu);
    id = impl_->next_watcher++;
    impl_->watchers.emplace(id, std::move(on_failure));
  }
  Impl* impl = impl_.get();
  // The handle is dropped before the bridge (the watcher's owner holds both).
  return std::shared_ptr<void>(nullptr, [impl, id](void*) {
    std::lock_guard lock(impl->watchers_mu);
    impl->watchers.erase(id);
  });
}

}  // namespace dlock::zk
