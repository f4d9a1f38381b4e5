// The Redis backend against real redis-servers on loopback: the conformance suite, then
// what is particular to Redis (auth, ACL users, TLS, pub/sub wake-ups, pipelining,
// late replies, no leftovers).
#include "dlock/backends/redis.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <thread>

#include "conformance/backend_conformance.h"
#include "dlock/batch_backend.h"
#include "dlock/locker.h"
#include "dlock/open.h"
#include "dlock/queueing_backend.h"
#include "dlock/testing/faulty_backend.h"
#include "integration/backend_util.h"
#include "integration/redis_server.h"
#include "test_util.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using Shared = SharedServer<RedisServer>;
const auto* const env = ::testing::AddGlobalTestEnvironment(new Shared);

std::shared_ptr<Backend> SharedServerBackend() {
  return Shared::get() ? Open(Shared::get()->Uri()) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Redis, BackendConformance,
                         ::testing::Values(BackendFactory{"redis", SharedServerBackend}),
                         FactoryName);

Status OpenStatus(const std::string& uri) {
  auto backend = OpenBackend(uri);
  return backend.ok() ? OkStatus() : backend.status();
}

TEST(RedisAuthTest, PasswordsAndAclUsers) {
  auto server = RedisServer::Start(
      {"--requirepass", "s3cret", "--user", "alice", "on", ">pw", "~*", "&*", "+@all"});
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(OpenStatus(server->Uri(":s3cret")).ok());
  EXPECT_TRUE(OpenStatus(server->Uri("alice:pw")).ok());
  for (std::string userinfo : {std::string(), std::string(":wrong"), std::string("alice:nope")}) {
    Status s = OpenStatus(server->Uri(userinfo));
    EXPECT_EQ(s.code(), Code::kFailedPrecondition) << userinfo << ": " << s.ToString();
    EXPECT_EQ(s.message().find("wrong"), std::string::npos);
    EXPECT_EQ(s.message().find("nope"), std::string::npos);
    EXPECT_EQ(s.message().find('\n'), std::string::npos);
  }
  auto backend = Open(server->Uri("alice:pw"));
  ASSERT_NE(backend, nullptr);
  auto lease = backend->TryAcquire(Request("acl"));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_TRUE(backend->Release(*lease).ok());
}

TEST(RedisTlsTest, VerifiesTheServerByDefault) {
  TempDir dir;
  TlsFiles tls;
  ASSERT_TRUE(tls.Make(dir.path() / "tls", "dlock-test-ca"));
  auto server = RedisServer::Start({}, &tls);
  ASSERT_NE(server, nullptr);

  auto backend = Open(server->Uri("", "?cacert=" + tls.ca_cert.string()));
  ASSERT_NE(backend, nullptr);
  auto lease = backend->TryAcquire(Request("tls"));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_TRUE(backend->Release(*lease).ok());

  Status untrusted = OpenStatus(server->Uri());
  EXPECT_EQ(untrusted.code(), Code::kFailedPrecondition) << untrusted.ToString();
  EXPECT_NE(untrusted.message().find("certificate verify failed"), std::string::npos)
      << untrusted.message();

  EXPECT_TRUE(OpenStatus(server->Uri("", "?insecure=true")).ok());

  std::string plain = "redis://127.0.0.1:" + std::to_string(server->port()) + "?timeout=1s";
  Status wrong_protocol = OpenStatus(plain);
  EXPECT_EQ(wrong_protocol.code(), Code::kUnavailable) << wrong_protocol.ToString();

  std::string tls_to_plain = "rediss://127.0.0.1:" + std::to_string(Shared::get()->port()) +
                             "?insecure=true&timeout=1s&connect_timeout=1s";
  EXPECT_EQ(OpenStatus(tls_to_plain).code(), Code::kUnavailable);
}

TEST(RedisTlsTest, ClientCertificates) {
  TempDir dir;
  TlsFiles tls;
  ASSERT_TRUE(tls.Make(dir.path() / "tls", "dlock-test-ca"));
  auto server = RedisServer::Start({}, &tls, /*client_auth=*/true);
  ASSERT_NE(server, nullptr);
  std::string ca = "?cacert=" + tls.ca_cert.string() + "&timeout=1s";
  EXPECT_NE(OpenStatus(server->Uri("", ca)).code(), Code::kOk);  // no client certificate
  auto backend = Open(server->Uri(
      "", ca + "&cert=" + tls.client_cert.string() + "&key=" + tls.client_key.string()));
  ASSERT_NE(backend, nullptr);
  auto lease = backend->TryAcquire(Request("mtls"));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_TRUE(backend->Release(*lease).ok());
  Status half = OpenStatus(server->Uri("", ca + "&cert=" + tls.client_cert.string()));
  EXPECT_EQ(half.code(), Code::kInvalidArgument);
  EXPECT_NE(half.message().find("both cert= and key="), std::string::npos);
}

TEST(RedisTest, UnreachableServerIsUnavailable) {
  Status s = OpenStatus("redis://127.0.0.1:" + std::to_string(ClosedPort()));
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("Connection refused"), std::string::npos) << s.message();
}

TEST(RedisTest, BadOptionsAreRejected) {
  for (std::string suffix : {"/x", "?colour=red", "?pool=0", "?timeout=soon", "?cacert=/x"}) {
    Status s = OpenStatus(Shared::get()->Uri("", suffix));
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << suffix << ": " << s.ToString();
  }
  EXPECT_EQ(OpenStatus("redis://a:1,b:2").code(), Code::kInvalidArgument);
}

TEST(RedisTest, DatabaseAndPrefixAreUsed) {
  auto backend = Open(Shared::get()->Uri("", "/3?prefix=app1:"));
  ASSERT_NE(backend, nullptr);
  auto lease = backend->TryAcquire(Request("db-test"));
  ASSERT_TRUE(lease.ok());
  EXPECT_NE(Shared::get()->Cli({"-n", "3", "EXISTS", "app1:{db-test}"}).find('1'),
            std::string::npos);
  EXPECT_TRUE(backend->Release(*lease).ok());
}

TEST(RedisTest, WaiterIsWokenByTheReleaseNotByPolling) {
  auto holder = SharedServerBackend();
  auto faulty = std::make_shared<testing::FaultyBackend>(SharedServerBackend());
  const std::string name = "wake-" + NewOwnerId();
  auto lease = holder->TryAcquire(Request(name, seconds(30)));
  ASSERT_TRUE(lease.ok());
  Locker locker(faulty);
  std::optional<Result<Lock>> got;
  std::thread waiter([&] { got.emplace(locker.Acquire(name, {.wait = seconds(20)})); });
  // A waiter in line listens on a channel of its own (RELEASED:OWNER), where it is told
  // once it heads the line: a release wakes one waiter, not all of them.
  const std::string channel = "dlock:{" + name + "}:released";
  ASSERT_TRUE(WaitFor([&] {
    return Shared::get()->Cli({"PUBSUB", "CHANNELS", channel + ":*"}).find(channel + ":") !=
           std::string::npos;
  }));
  EXPECT_EQ(Shared::get()->Cli({"PUBSUB", "NUMSUB", channel}).find("\n1"), std::string::npos);
  auto released_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(holder->Release(*lease).ok());
  waiter.join();
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  EXPECT_GT((*got)->token(), lease->token);
  // Woken by the message: long before the holder's 30 s TTL, with no polling loop.
  EXPECT_LT(std::chrono::steady_clock::now() - released_at, seconds(5));
  EXPECT_LE(faulty->calls(testing::Op::kTryAcquire), 3);
}

// The application lets go of its Locker and backend while an asynchronous call is in
// flight: the last reference then goes on the client's own I/O thread, in a callback,
// and the client is stopped from another thread. Nothing hangs, and nothing stays held.
TEST(RedisTest, TheLastReferenceMayGoInACallback) {
  const std::string name = "last-" + NewOwnerId();
  auto done = std::make_shared<std::promise<FencingToken>>();
  auto answered = done->get_future();
  {
    auto locker = std::make_unique<Locker>(SharedServerBackend());
    locker->TryAcquireAsync(name, {}, [done](Result<Lock> lock) {
      done->set_value(lock.ok() ? lock->token() : 0);  // the Lock is released as it goes
    });
  }
  ASSERT_EQ(answered.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_GT(answered.get(), 0u);
  auto observer = SharedServerBackend();
  EXPECT_TRUE(WaitFor([&] { return !observer->Inspect(name)->held; }));
}

TEST(RedisTest, AFreeLockWaitsForTheHeadOfTheLineUntilItsPlaceRunsOut) {
  auto backend = SharedServerBackend();
  const std::string name = "line-" + NewOwnerId();
  auto lease = backend->TryAcquire(Request(name));
  ASSERT_TRUE(lease.ok());
  // A waiter that joins the line and then never asks again (it crashed).
  auto ghost = Request(name);
  ghost.queue = true;
  ASSERT_EQ(backend->TryAcquire(ghost).status().code(), Code::kContended);
  Locker locker(SharedServerBackend());
  std::optional<Result<Lock>> got;
  std::thread waiter([&] { got.emplace(locker.Acquire(name, {.wait = seconds(20)})); });
  ASSERT_TRUE(WaitFor([&] { return backend->Inspect(name)->waiters == 2; }));
  ASSERT_TRUE(backend->Release(*lease).ok());
  // Free, but the ghost heads the line: neither the waiter nor a single attempt gets it.
  auto other = backend->TryAcquire(Request(name));
  EXPECT_EQ(other.status().code(), Code::kContended);
  EXPECT_NE(other.status().message().find("waiting in line"), std::string::npos)
      << other.status().ToString();
  EXPECT_FALSE(backend->Inspect(name)->held);
  waiter.join();  // once the ghost's place ran out (3 s after it last asked)
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  EXPECT_GT((*got)->token(), lease->token);
  EXPECT_EQ(backend->Inspect(name)->waiters, 0);
  EXPECT_TRUE((*got)->Release().ok());
  EXPECT_EQ(Shared::get()->Cli({"EXISTS", "dlock:{" + name + "}:line",
                                "dlock:{" + name + "}:places", "dlock:{" + name + "}:wants"}),
            "0\n");
}

// True once the server has a subscriber on `owner`'s own channel for lock `name`.
bool Listening(const std::string& name, const std::string& owner) {
  return Shared::get()
             ->Cli({"PUBSUB", "NUMSUB", "dlock:{" + name + "}:released:" + owner})
             .find("\n1\n") != std::string::npos;
}

// Runs `wait` (a wait by `owner` on lock `name`) on a thread, and `then` once the server
// shows the owner listening, if that came within `soon` of the start: a wait in line goes
// round to renew its place after 1 s, and `then` must run before. Returns whether `then`
// ran; the wait has returned either way.
bool WhileListening(const std::string& name, const std::string& owner, milliseconds soon,
                    const std::function<void()>& wait, const std::function<void()>& then) {
  const auto started = std::chrono::steady_clock::now();
  std::thread waiting(wait);
  const bool listening = WaitFor([&] { return Listening(name, owner); });
  const bool in_time = listening && std::chrono::steady_clock::now() - started < soon;
  if (in_time) then();
  waiting.join();
  return in_time;
}

// `holder` releases `lease` while `waiter` waits for its turn as `request`'s owner (in
// line: request.queue), `gap` after its attempt was answered at `*asked`. Returns what
// WaitForTurn returned, or nullopt if no round got the release in while it listened.
std::optional<Result<std::optional<Lease>>> ReleaseDuringTurn(
    Backend& holder, const Lease& lease, Backend& waiter, const AcquireRequest& request,
    milliseconds gap, std::chrono::steady_clock::time_point* asked) {
  std::optional<Result<std::optional<Lease>>> turn;
  for (int round = 0; round < 5; ++round) {
    if (waiter.TryAcquire(request).status().code() != Code::kContended) return std::nullopt;
    *asked = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(gap);
    const bool released = WhileListening(
        request.name, request.owner_id, milliseconds(500),
        [&] {
          turn.emplace(waiter.queueing()->WaitForTurn(
              request, std::chrono::steady_clock::now() + seconds(20), {}));
        },
        [&] { EXPECT_TRUE(holder.Release(lease).ok()); });
    if (released) return turn;
  }
  return std::nullopt;
}

// A release gives the lock to the head of the line in the same step, and tells it on its
// channel: WaitForTurn returns the grant itself, with no second attempt, valid from when
// the waiter's request was sent.
TEST(RedisTest, AReleaseHandsTheLockToTheHeadOfTheLine) {
  auto holder = SharedServerBackend();
  auto waiter = SharedServerBackend();
  const std::string name = "handoff-" + NewOwnerId();
  auto lease = holder->TryAcquire(Request(name));
  ASSERT_TRUE(lease.ok());
  auto request = Request(name, seconds(20));
  request.queue = true;
  std::chrono::steady_clock::time_point asked;
  auto turn = ReleaseDuringTurn(*holder, *lease, *waiter, request, milliseconds(0), &asked);
  ASSERT_TRUE(turn.has_value());
  ASSERT_TRUE(turn->ok()) << turn->status().ToString();
  ASSERT_TRUE(turn->value().has_value()) << "woken, but not handed the lock";
  const Lease& got = *turn->value();
  EXPECT_EQ(got.owner_id, request.owner_id);
  EXPECT_EQ(got.token, lease->token + 1);
  EXPECT_EQ(got.ttl, seconds(20));
  EXPECT_GT(got.valid_until, std::chrono::steady_clock::now());
  // From when the request was sent (before `asked`), not from the message (after).
  EXPECT_LT(got.valid_until, ValidUntil(asked, seconds(20)));
  auto state = holder->Inspect(name);
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->held);
  EXPECT_EQ(state->token, got.token);
  EXPECT_EQ(state->waiters, 0);
  EXPECT_TRUE(waiter->Extend(got, seconds(20)).ok());
  EXPECT_TRUE(waiter->Release(got).ok());
  EXPECT_FALSE(holder->Inspect(name)->held);
}

// A hand-off that leaves less than half the TTL (the request it answers was sent long
// before) is not returned; the waiter's next attempt finds the lock its own already.
TEST(RedisTest, ALateHandOffIsTakenByTheNextAttempt) {
  auto holder = SharedServerBackend();
  auto waiter = SharedServerBackend();
  const std::string name = "late-" + NewOwnerId();
  auto lease = holder->TryAcquire(Request(name));
  ASSERT_TRUE(lease.ok());
  auto request = Request(name, seconds(1));
  request.queue = true;
  std::chrono::steady_clock::time_point asked;
  // Over half the TTL gone since the request (its place in line lasts 3 s).
  auto turn = ReleaseDuringTurn(*holder, *lease, *waiter, request, milliseconds(550), &asked);
  ASSERT_TRUE(turn.has_value());
  ASSERT_TRUE(turn->ok()) << turn->status().ToString();
  EXPECT_FALSE(turn->value().has_value());
  auto state = holder->Inspect(name);  // handed over all the same
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->held);
  EXPECT_EQ(state->token, lease->token + 1);
  asked = std::chrono::steady_clock::now();
  auto next = waiter->TryAcquire(request);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->token, lease->token + 1);  // the same grant, renewed
  EXPECT_GE(next->valid_until, ValidUntil(asked, seconds(1)));
  EXPECT_TRUE(waiter->Release(*next).ok());
}

// A head that was handed the lock but gave up before it took it (here the message went
// to another listener) frees it when it leaves the line.
TEST(RedisTest, LeavingTheLineFreesALockHandedOverButNeverTaken) {
  auto holder = SharedServerBackend();
  auto waiter = SharedServerBackend();
  auto listener = SharedServerBackend();
  const std::string name = "unclaimed-" + NewOwnerId();
  auto lease = holder->TryAcquire(Request(name));
  ASSERT_TRUE(lease.ok());
  auto request = Request(name);
  request.queue = true;
  Status woke;
  bool released = false;
  for (int round = 0; round < 5 && !released; ++round) {
    ASSERT_EQ(waiter->TryAcquire(request).status().code(), Code::kContended);
    released = WhileListening(
        name, request.owner_id, milliseconds(500),
        [&] {
          woke = listener->queueing()
                     ->WaitForTurn(request, std::chrono::steady_clock::now() + seconds(20), {})
                     .status();
        },
        [&] { EXPECT_TRUE(holder->Release(*lease).ok()); });
  }
  ASSERT_TRUE(released);
  EXPECT_TRUE(woke.ok()) << woke.ToString();
  auto state = holder->Inspect(name);
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->held);  // handed to the waiter, which does not know it
  EXPECT_EQ(state->token, lease->token + 1);
  ASSERT_TRUE(waiter->queueing()->LeaveQueue(name, request.owner_id).ok());
  EXPECT_FALSE(holder->Inspect(name)->held);
  auto next = holder->TryAcquire(Request(name));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->token, lease->token + 2);
  EXPECT_TRUE(holder->Release(*next).ok());
}

TEST(RedisTest, NothingButTheFencingCounterIsLeft) {
  const std::string name = "leftovers-" + NewOwnerId();
  {
    auto backend = SharedServerBackend();
    Locker locker(backend);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        for (int j = 0; j < 5; ++j) {
          auto lock = locker.Acquire(name, {.wait = seconds(20)});
          EXPECT_TRUE(lock.ok()) << lock.status().ToString();
        }
      });
    }
    for (auto& t : threads) t.join();
    // While the client lives, its subscriber connection has left the channel too.
    EXPECT_TRUE(WaitFor([&] {
      return Shared::get()->Cli({"PUBSUB", "CHANNELS", "*" + name + "*"}).find(name) ==
             std::string::npos;
    }));
  }
  std::string keys = Shared::get()->Cli({"KEYS", "*" + name + "*"});
  EXPECT_EQ(keys, "dlock:{" + name + "}:fence\n");
}

TEST(RedisTest, ScriptCacheFlushIsHarmless) {
  auto backend = SharedServerBackend();
  Shared::get()->Cli({"SCRIPT", "FLUSH"});
  auto lease = backend->TryAcquire(Request("flushed-" + NewOwnerId()));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  Shared::get()->Cli({"SCRIPT", "FLUSH"});
  EXPECT_TRUE(backend->Release(*lease).ok());
}

TEST(RedisTest, AConnectionTheServerClosedWhileIdleIsReplacedWithoutAnError) {
  // A restart, CLIENT KILL or redis.conf's `timeout` closes idle connections; the next
  // call must connect again, not fail.
  auto backend = SharedServerBackend();
  auto lease = backend->TryAcquire(Request("killed-" + NewOwnerId()));
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  std::string killed = Shared::get()->Cli({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  EXPECT_NE(killed.substr(0, 2), "0\n") << "no connection was closed";
  EXPECT_TRUE(backend->Release(*lease).ok());
}

TEST(RedisTest, ExtendManyAnswersPerLeaseInOrder) {
  auto backend = SharedServerBackend();
  const std::string prefix = "many-" + NewOwnerId().substr(0, 8) + "-";
  std::vector<Lease> leases;
  for (int i = 0; i < 100; ++i) {
    auto lease = backend->TryAcquire(Request(prefix + std::to_string(i), seconds(5)));
    ASSERT_TRUE(lease.ok()) << lease.status().ToString();
    leases.push_back(*lease);
  }
  ASSERT_TRUE(backend->Release(leases[10]).ok());  // no longer held
  const std::string owner20 = leases[20].owner_id;
  leases[20].owner_id = "not an owner id";  // refused before anything is sent
  for (auto& l : leases) l.ttl = seconds(60);
  auto renewed = ExtendMany(*backend, leases);
  ASSERT_EQ(renewed.size(), leases.size());
  for (std::size_t i = 0; i < leases.size(); ++i) {
    if (i == 10) {
      EXPECT_EQ(renewed[i].status().code(), Code::kNotHeld) << renewed[i].status().ToString();
    } else if (i == 20) {
      EXPECT_EQ(renewed[i].status().code(), Code::kInvalidArgument);
    } else {
      ASSERT_TRUE(renewed[i].ok()) << i << ": " << renewed[i].status().ToString();
      EXPECT_EQ(renewed[i]->name, leases[i].name);
      EXPECT_EQ(renewed[i]->token, leases[i].token);
      EXPECT_GT(renewed[i]->valid_until, leases[i].valid_until + seconds(50));
    }
  }
  // The store has the new TTL.
  int pttl = std::stoi(Shared::get()->Cli({"PTTL", "dlock:{" + prefix + "99}"}));
  EXPECT_GT(pttl, 50000);
  leases[20].owner_id = owner20;
  for (std::size_t i = 0; i < leases.size(); ++i) {
    if (i != 10) {
      EXPECT_TRUE(backend->Release(leases[i]).ok()) << i;
    }
  }
}

int ClientCount(const RedisServer& server) {
  std::string list = server.Cli({"CLIENT", "LIST"});
  return static_cast<int>(std::count(list.begin(), list.end(), '\n'));
}

TEST(RedisTest, ManyConcurrentLoopsShareAFewConnections) {
  auto backend = Open(Shared::get()->Uri("", "?pool=2"));
  ASSERT_NE(backend, nullptr);
  int before = ClientCount(*Shared::get());
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  std::atomic<bool> stop{false};
  std::atomic<int> most_clients{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 256; ++t) {
    threads.emplace_back([&, t] {
      std::string name = "conc-" + std::to_string(t);
      for (int i = 0; i < 20; ++i) {
        auto lease = backend->TryAcquire(Request(name));
        if (!lease.ok() || !backend->Release(*lease).ok()) failed++;
        done++;
      }
    });
  }
  std::thread watcher([&] {
    while (!stop) {
      most_clients = std::max(most_clients.load(), ClientCount(*Shared::get()));
    }
  });
  for (auto& t : threads) t.join();
  stop = true;
  watcher.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(done.load(), 256 * 20);
  // Two connections lent to calling threads, two pipelining the rest on the I/O thread
  // (the subscriber connects only for waiters), plus redis-cli.
  EXPECT_LE(most_clients.load() - before, 2 + 2 + 1);
}

TEST(RedisFaultTest, LossIsSignalledBeforeValidUntilWhenTheServerDies) {
  auto server = RedisServer::Start();
  ASSERT_NE(server, nullptr);
  ExpectLossBeforeValidUntil(Open(server->Uri("", "?timeout=200ms&connect_timeout=200ms")),
                             seconds(1), [&] { server->Stop(); });
}

TEST(RedisFaultTest, AReplyAfterTheValidityEndedIsNotAGrant) {
  auto server = RedisServer::Start();
  ASSERT_NE(server, nullptr);
  auto backend = Open(server->Uri());
  ASSERT_NE(backend, nullptr);
  server->Pause();
  std::optional<Result<Lease>> got;
  std::thread acquirer(
      [&] { got.emplace(backend->TryAcquire(Request("late", milliseconds(100)))); });
  // The pause is the fault being injected: the reply must come after the 100 ms TTL.
  std::this_thread::sleep_for(milliseconds(400));
  server->Resume();
  acquirer.join();
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->status().code(), Code::kUnavailable);
  EXPECT_NE(got->status().message().find("validity"), std::string::npos);
  EXPECT_FALSE(backend->Inspect("late")->held);
}

}  // namespace
}  // namespace dlock::test
