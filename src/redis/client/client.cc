#include "redis/client/client.h"

#include <fmt/format.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <future>

#include "core/async_scope.h"
#include "core/background_worker.h"
#include "redis/client/reply_error.h"

namespace dlock::redis {
namespace {

using Steady = std::chrono::steady_clock;

std::string Sha1Hex(const std::string& text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  std::string out;
  for (unsigned char b : digest) out += fmt::format("{:02x}", b);
  return out;
}

std::string Joined(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view part : parts) out += part;
  return out;
}

// {EVAL|EVALSHA, source|sha1, number of keys, keys..., args...}
std::vector<std::string> EvalArgs(const std::string& head, const std::string& body,
                                  const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) {
  std::vector<std::string> cmd = {head, body, std::to_string(keys.size())};
  cmd.insert(cmd.end(), keys.begin(), keys.end());
  cmd.insert(cmd.end(), args.begin(), args.end());
  return cmd;
}

// Destroys the clients given to Dispose from their own I/O thread: one thread for the
// process, started at the first, and joined at exit (before OpenSSL's exit handler).
class Reaper {
 public:
  static Reaper& Get() {
    static Reaper reaper;
    return reaper;
  }
  void Add(std::unique_ptr<Client> client) { worker_.Add(std::move(client)); }

 private:
  // OpenSSL registers its exit handler at its first initialisation, here at the latest:
  // before this object is complete, so that this object's destructor (which joins the
  // thread, and with it every ~Client it ran) runs before that handler.
  Reaper() : openssl_(OPENSSL_init_ssl(0, nullptr)) {}

  const int openssl_;  // OpenSSL initialised first
  // Each ~Client stops and joins its I/O thread; all are run before exit.
  internal::BackgroundWorker<std::unique_ptr<Client>> worker_{
      [](std::unique_ptr<Client> client) { client.reset(); }, SIZE_MAX, std::nullopt};
};

}  // namespace

void Dispose(std::unique_ptr<Client> client) {
  if (client && client->on_io_thread()) Reaper::Get().Add(std::move(client));
}

Script::Script(std::initializer_list<std::string_view> parts)
    : source(std::make_shared<const std::string>(Joined(parts))), sha1(Sha1Hex(*source)) {}

void Waiter::Confirm() {
  std::lock_guard lock(mu);
  ++confirmed;
  cv.notify_all();
}

void Waiter::Message(const std::string& payload) {
  std::lock_guard lock(mu);
  ++messages;
  last = payload;
  cv.notify_all();
}

void Waiter::Fail(const Status& status) {
  std::lock_guard lock(mu);
  ++errors;
  error = status;
  cv.notify_all();
}

bool Waiter::Wait(const std::function<bool()>& pred, Steady::time_point deadline,
                  std::stop_token stop) {
  std::unique_lock lock(mu);
  return cv.wait_until(lock, stop, deadline, pred);
}

Subscription::Subscription(Client* client, std::string channel, std::shared_ptr<Waiter> waiter)
    : client_(client), channel_(std::move(channel)), waiter_(std::move(waiter)) {}

Subscription::~Subscription() {
  asio::post(client_->io_, [client = client_, channel = channel_, waiter = waiter_] {
    client->Unsubscribe(channel, waiter);
  });
}

Status Subscription::error() const {
  std::lock_guard lock(waiter_->mu);
  return waiter_->error;
}

std::string Subscription::last_message() const {
  std::lock_guard lock(waiter_->mu);
  return waiter_->last;
}

Client::Client(ClientOptions options)
    : options_(std::move(options)),
      endpoint_(fmt::format("{}{}:{}", options_.connection.tls ? "rediss://" : "redis://",
                            options_.connection.host, options_.connection.port)),
      work_(asio::make_work_guard(io_)) {
  for (int i = 0; i < std::max(1, options_.pool_size); ++i) {
    pool_.push_back(std::make_unique<Connection>(io_, options_.connection));
  }
  subscriber_ = std::make_unique<Connection>(
      io_, options_.connection, [this](const Reply& r) { OnPush(r); },
      [this](const Status& s) { OnSubscriberDown(s); });
  thread_ = std::thread([this] {
    // Callbacks run here, and their captures (a Lock, say) may be destroyed here after
    // them: blocking dlock calls on this thread must not wait for it.
    internal::AsyncCallbackScope scope;
    io_.run();
  });
}

Client::~Client() {
  // Let commands already queued (a release sent to every Redlock instance, say) reach
  // the kernel before the I/O thread stops; bounded, as a server may be gone.
  const auto give_up = Steady::now() + std::chrono::milliseconds(200);
  while (Steady::now() < give_up) {
    std::promise<bool> flushed;
    auto answer = flushed.get_future();
    asio::post(io_, [this, &flushed] {
      flushed.set_value(
          std::all_of(pool_.begin(), pool_.end(), [](auto& c) { return c->flushed(); }));
    });
    if (answer.get()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  work_.reset();
  io_.stop();
  thread_.join();
  // Connections are destroyed with their handlers never run; blocked callers time out.
}

void Client::CallAsync(std::vector<std::string> args, ReplyCallback done,
                       std::optional<std::size_t> shard) {
  std::string wire = EncodeCommand(args);
  asio::post(io_, [this, wire = std::move(wire), done = std::move(done), shard]() mutable {
    Connection* best = pool_.front().get();
    if (shard) {
      best = pool_[*shard % pool_.size()].get();
    } else {
      for (auto& c : pool_) {
        if (c->pending() < best->pending() || (!best->ready() && c->ready())) best = c.get();
      }
    }
    best->Send(std::move(wire), std::move(done));
  });
}

Result<Reply> Client::Await(const std::function<void(ReplyCallback)>& start, int calls) {
  auto promise = std::make_shared<std::promise<Result<Reply>>>();
  auto future = promise->get_future();
  start([promise](Result<Reply> r) { promise->set_value(std::move(r)); });
  // The connections enforce their own timeouts; this bound only guards against a bug.
  auto limit = calls * (options_.connection.connect_timeout + options_.connection.command_timeout) +
               std::chrono::seconds(5);
  if (future.wait_for(limit) != std::future_status::ready) {
    return UnavailableError(fmt::format("{}: no reply", endpoint_));
  }
  return future.get();
}

Result<std::vector<asio::ip::tcp::endpoint>> Client::Addresses() {
  using Found = Result<std::vector<asio::ip::tcp::endpoint>>;
  auto promise = std::make_shared<std::promise<Found>>();
  auto future = promise->get_future();
  asio::post(io_, [this, promise] {
    resolver_.async_resolve(
        options_.connection.host, std::to_string(options_.connection.port),
        [this, promise](const asio::error_code& ec, asio::ip::tcp::resolver::results_type found) {
          if (ec) {
            promise->set_value(UnavailableError(
                fmt::format("cannot resolve {}: {}", options_.connection.host, ec.message())));
            return;
          }
          std::vector<asio::ip::tcp::endpoint> addresses;
          for (const auto& entry : found) addresses.push_back(entry.endpoint());
          promise->set_value(std::move(addresses));
        });
  });
  if (future.wait_for(options_.connection.connect_timeout) != std::future_status::ready) {
    return UnavailableError(fmt::format("cannot resolve {}: no answer within {}ms",
                                        options_.connection.host,
                                        options_.connection.connect_timeout.count()));
  }
  return future.get();
}

Result<std::unique_ptr<BlockingConnection>> Client::Lend() {
  if (options_.connection.tls || std::this_thread::get_id() == thread_.get_id()) {
    return std::unique_ptr<BlockingConnection>();
  }
  std::unique_ptr<BlockingConnection> connection;
  {
    std::lock_guard lock(lend_mu_);
    if (lent_ >= options_.pool_size || Steady::now() < lend_after_) {
      return std::unique_ptr<BlockingConnection>();
    }
    ++lent_;
    if (!idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (connection && connection->Usable()) return connection;
  if (!connection) connection = std::make_unique<BlockingConnection>(options_.connection);
  auto addresses = Addresses();
  Status s = addresses.ok() ? connection->Connect(*addresses) : addresses.status();
  if (!s.ok()) {
    std::lock_guard lock(lend_mu_);
    --lent_;
    lend_after_ = Steady::now() + std::chrono::seconds(1);
    return s;
  }
  return connection;
}

void Client::GiveBack(std::unique_ptr<BlockingConnection> connection) {
  std::lock_guard lock(lend_mu_);
  --lent_;
  if (connection->connected()) idle_.push_back(std::move(connection));
}

template <typename Fn, typename Fallback>
Result<Reply> Client::OnLent(Fn fn, Fallback fallback) {
  auto lent = Lend();
  if (!lent.ok()) return lent.status();
  if (!*lent) return fallback();
  auto reply = fn(**lent);
  GiveBack(std::move(*lent));
  return reply;
}

Result<Reply> Client::Call(std::vector<std::string> args) {
  return OnLent([&](BlockingConnection& c) { return c.Call(EncodeCommand(args)); },
                [&] {
                  return Await(
                      [&](ReplyCallback done) { CallAsync(std::move(args), std::move(done)); }, 1);
                });
}

Status Client::Ping() {
  auto pong = Call({"PING"});
  if (!pong.ok()) return pong.status();
  if (pong->is_error()) return ReplyError(endpoint(), *pong);
  return OkStatus();
}

bool Client::ScriptLoaded(const std::string& sha1) {
  std::lock_guard lock(scripts_mu_);
  return scripts_loaded_.count(sha1) > 0;
}

Result<Reply> Client::EvalOn(BlockingConnection& connection, const Script& script,
                             const std::vector<std::string>& keys,
                             const std::vector<std::string>& args) {
  auto command = [&](const std::string& head, const std::string& body) {
    return EncodeCommand(EvalArgs(head, body, keys, args));
  };
  if (ScriptLoaded(script.sha1)) {
    auto reply = connection.Call(command("EVALSHA", script.sha1));
    if (!reply.ok() || !reply->is_error() || !reply->str.starts_with("NOSCRIPT")) return reply;
  }
  auto reply = connection.Call(command("EVAL", *script.source));
  if (reply.ok() && !reply->is_error()) {
    std::lock_guard lock(scripts_mu_);
    scripts_loaded_.insert(script.sha1);
  }
  return reply;
}

void Client::EvalAsync(const Script& script, const std::vector<std::string>& keys,
                       const std::vector<std::string>& args, ReplyCallback done, bool send_source) {
  const std::size_t shard = keys.empty() ? 0 : std::hash<std::string>{}(keys[0]);
  // Marks the script loaded once the server ran it.
  auto remember = [this, sha1 = script.sha1, done = std::move(done)](Result<Reply> r) {
    if (r.ok() && !r->is_error()) {
      std::lock_guard lock(scripts_mu_);
      scripts_loaded_.insert(sha1);
    }
    done(std::move(r));
  };
  if (send_source || !ScriptLoaded(script.sha1)) {
    return CallAsync(EvalArgs("EVAL", *script.source, keys, args), std::move(remember), shard);
  }
  // The EVAL form is built only if the server lost its script cache (NOSCRIPT).
  CallAsync(
      EvalArgs("EVALSHA", script.sha1, keys, args),
      [this, source = script.source, keys, args, remember = std::move(remember),
       shard](Result<Reply> r) mutable {
        if (r.ok() && r->is_error() && r->str.starts_with("NOSCRIPT")) {
          return CallAsync(EvalArgs("EVAL", *source, keys, args), std::move(remember), shard);
        }
        remember(std::move(r));
      },
      shard);
}

Result<Reply> Client::Eval(const Script& script, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args) {
  return OnLent([&](BlockingConnection& c) { return EvalOn(c, script, keys, args); },
                [&] {
                  // Two calls at most: EVALSHA, then EVAL.
                  return Await(
                      [&](ReplyCallback done) { EvalAsync(script, keys, args, std::move(done)); },
                      2);
                });
}

namespace {

std::vector<std::string> WaitCommand(int replicas, std::chrono::milliseconds timeout) {
  return {"WAIT", std::to_string(replicas), std::to_string(timeout.count())};
}

std::int64_t Acked(const Result<Reply>& wait) {
  return wait.ok() && wait->type == Reply::Type::kInteger ? wait->integer : -1;
}

bool Succeeded(const Result<Reply>& r) { return r.ok() && !r->is_error(); }

}  // namespace

void Client::EvalWaitedAsync(const Script& script, const std::vector<std::string>& keys,
                             const std::vector<std::string>& args, int replicas,
                             std::chrono::milliseconds timeout, WaitedCallback done) {
  // EvalAsync's shard: the WAIT goes over the connection that ran the script.
  const std::size_t shard = keys.empty() ? 0 : std::hash<std::string>{}(keys[0]);
  EvalAsync(script, keys, args,
            [this, shard, wait = WaitCommand(replicas, timeout),
             done = std::move(done)](Result<Reply> r) mutable {
              if (!Succeeded(r)) return done(std::move(r), 0);
              CallAsync(
                  std::move(wait),
                  [r = std::move(r), done = std::move(done)](Result<Reply> w) mutable {
                    done(std::move(r), Acked(w));
                  },
                  shard);
            });
}

Result<Reply> Client::EvalWaited(const Script& script, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args, int replicas,
                                 std::chrono::milliseconds timeout, std::int64_t* acked) {
  *acked = 0;
  return OnLent(
      [&](BlockingConnection& c) {
        auto reply = EvalOn(c, script, keys, args);
        if (Succeeded(reply)) *acked = Acked(c.Call(EncodeCommand(WaitCommand(replicas, timeout))));
        return reply;
      },
      [&] {
        auto count = std::make_shared<std::atomic<std::int64_t>>(0);
        // Three calls at most: EVALSHA, EVAL, WAIT.
        auto reply = Await(
            [&](ReplyCallback done) {
              EvalWaitedAsync(script, keys, args, replicas, timeout,
                              [count, done = std::move(done)](Result<Reply> r, std::int64_t n) {
                                *count = n;
                                done(std::move(r));
                              });
            },
            3);
        *acked = count->load();
        return reply;
      });
}

void Client::After(std::chrono::milliseconds delay, std::function<void()> fn) {
  asio::post(io_, [this, delay, fn = std::move(fn)]() mutable {
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    timer->async_wait([timer, fn = std::move(fn)](const asio::error_code& ec) {
      if (!ec) fn();
    });
  });
}

std::unique_ptr<Subscription> Client::Subscribe(const std::string& channel,
                                                std::shared_ptr<Waiter> waiter, bool sharded) {
  if (!waiter) waiter = std::make_shared<Waiter>();
  asio::post(io_, [this, channel, waiter, sharded] {
    Channel& ch = channels_[channel];
    if (ch.waiters.empty() && !ch.subscribed) ch.sharded = sharded;
    ch.waiters.insert(waiter);
    if (!ch.subscribed) {
      ch.subscribed = true;
      ch.sent++;
      if (!subscriber_->Send(EncodeCommand({ch.sharded ? "SSUBSCRIBE" : "SUBSCRIBE", channel}),
                             nullptr)) {
        waiter->Fail(UnavailableError(fmt::format("{}: subscriber connection is down", endpoint_)));
        channels_.erase(channel);
      }
    } else if (ch.acked == ch.sent) {
      waiter->Confirm();
    }
  });
  return std::make_unique<Subscription>(this, channel, std::move(waiter));
}

void Client::Unsubscribe(const std::string& channel, const std::shared_ptr<Waiter>& waiter) {
  auto it = channels_.find(channel);
  if (it == channels_.end()) return;
  it->second.waiters.erase(waiter);
  if (it->second.waiters.empty() && it->second.subscribed) {
    it->second.subscribed = false;
    subscriber_->Send(EncodeCommand({it->second.sharded ? "SUNSUBSCRIBE" : "UNSUBSCRIBE", channel}),
                      nullptr);
  }
}

void Client::OnPush(const Reply& reply) {
  if (reply.is_error()) {
    // A refused SSUBSCRIBE (the server does not serve the channel's slot): the waiters of
    // every sharded channel not yet confirmed are told, with the server's words (a MOVED
    // there makes redis+cluster:// read its map again); the others are not touched.
    const Status refused = UnavailableError(fmt::format("{}: {}", endpoint_, reply.str));
    for (auto it = channels_.begin(); it != channels_.end();) {
      if (it->second.sharded && it->second.acked < it->second.sent) {
        for (auto& w : it->second.waiters) w->Fail(refused);
        it = channels_.erase(it);
      } else {
        ++it;
      }
    }
    return;
  }
  if (reply.elements.size() < 2) return;
  const std::string& kind = reply.elements[0].str;
  auto it = channels_.find(reply.elements[1].str);
  if (it == channels_.end()) return;
  Channel& ch = it->second;
  if (kind == "subscribe" || kind == "ssubscribe") {
    if (++ch.acked == ch.sent) {
      for (auto& w : ch.waiters) w->Confirm();
    }
  } else if (kind == "message" || kind == "smessage") {
    const std::string& payload = reply.elements.size() > 2 ? reply.elements[2].str : kind;
    for (auto& w : ch.waiters) w->Message(payload);
  } else if (kind == "unsubscribe" || kind == "sunsubscribe") {
    if (ch.sharded && ch.subscribed && ch.acked == ch.sent) {
      // Not asked for: the server no longer serves the channel's slot.
      for (auto& w : ch.waiters) {
        w->Fail(UnavailableError(
            fmt::format("{}: the server ended the subscription to {} (its slot moved)", endpoint_,
                        reply.elements[1].str)));
      }
      channels_.erase(it);
    } else if (!ch.subscribed && ch.waiters.empty() && ch.acked == ch.sent) {
      channels_.erase(it);
    }
  }
}

void Client::OnSubscriberDown(const Status& status) {
  for (auto& [name, ch] : channels_) {
    for (auto& w : ch.waiters) w->Fail(status);
  }
  channels_.clear();
}

}  // namespace dlock::redis
