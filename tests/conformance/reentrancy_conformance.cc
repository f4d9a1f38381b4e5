// docs/semantics.md, "Reentrancy and self-deadlock", on every backend: a thread taking
// again, through the same Locker, a lock it holds completes at once with a reentrant lock
// (the same lease, no store call) and fails at once with a non-reentrant one, instead of
// waiting on itself until its deadline. The edge cases (loss, detach, mixing,
// TryAcquireAsync) are in tests/unit/locker_test.cc, on a ManualClock.
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conformance/backend_conformance.h"
#include "dlock/events.h"
#include "dlock/locker.h"
#include "dlock/testing/faulty_backend.h"
#include "test_util.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FaultyBackend;
using testing::Op;
using Steady = std::chrono::steady_clock;

// Every wait below is 10 s; an answer "at once" comes well within this (a few store
// calls at most on a loaded machine), and one that waited on itself only after the 10 s.
constexpr auto kWait = seconds(10);
constexpr auto kAtOnce = seconds(2);

// The case: ShipOrder takes the order's lock and calls UpdateStock, which takes
// the same lock again.
Status UpdateStock(Locker& locker, const std::string& order, bool reentrant,
                   std::vector<FencingToken>& tokens) {
  auto lock = locker.Acquire(order, {.wait = kWait, .reentrant = reentrant});
  if (!lock.ok()) return lock.status();
  tokens.push_back(lock->token());
  return OkStatus();
}

Status ShipOrder(Locker& locker, const std::string& order, bool reentrant,
                 std::vector<FencingToken>& tokens) {
  auto lock = locker.Acquire(order, {.wait = kWait, .reentrant = reentrant});
  if (!lock.ok()) return lock.status();
  tokens.push_back(lock->token());
  return UpdateStock(locker, order, reentrant, tokens);
}

}  // namespace

TEST_P(BackendConformance, AFunctionTakingAReentrantLockItHoldsCompletesAtOnce) {
  const std::string order = Name("/orders/42");
  auto counted = std::make_shared<FaultyBackend>(backend_);
  Locker locker(counted);
  std::vector<FencingToken> tokens;
  const auto start = Steady::now();
  Status shipped = ShipOrder(locker, order, /*reentrant=*/true, tokens);
  const auto took = Steady::now() - start;
  ASSERT_TRUE(shipped.ok()) << shipped.ToString();
  EXPECT_LT(took, kAtOnce);
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_GT(tokens[0], 0u);
  EXPECT_EQ(tokens[1], tokens[0]);  // the same lease: the same fencing token
  // One acquisition and one release reached the store; the re-entry and the inner
  // release did not.
  EXPECT_EQ(counted->calls(Op::kTryAcquire), 1);
  EXPECT_EQ(counted->calls(Op::kWaitForRelease), 0);
  EXPECT_EQ(counted->calls(Op::kRelease), 1);
  EXPECT_FALSE(backend_->Inspect(order)->held);
}

TEST_P(BackendConformance, AFunctionTakingANonReentrantLockItHoldsFailsAtOnce) {
  const std::string order = Name("/orders/42");
  auto counted = std::make_shared<FaultyBackend>(backend_);
  Locker locker(counted);
  std::vector<FencingToken> tokens;
  const auto start = Steady::now();
  Status shipped = ShipOrder(locker, order, /*reentrant=*/false, tokens);
  const auto took = Steady::now() - start;
  EXPECT_EQ(shipped.code(), Code::kFailedPrecondition) << shipped.ToString();
  EXPECT_NE(shipped.message().find("already held by this thread"), std::string::npos)
      << shipped.message();
  EXPECT_LT(took, kAtOnce);  // not after its 10 s wait
  EXPECT_EQ(tokens.size(), 1u);
  EXPECT_EQ(counted->calls(Op::kTryAcquire), 1);  // the refused one sent nothing
  EXPECT_EQ(counted->calls(Op::kWaitForRelease), 0);
  EXPECT_FALSE(backend_->Inspect(order)->held);  // ShipOrder's lock released on return
}

TEST_P(BackendConformance, AReentrantLockIsFreedByItsLastHoldOnly) {
  const std::string name = Name();
  Locker locker(backend_);
  Locker other(GetParam().make());  // another holder, as another process
  auto outer = locker.Acquire(name, {.reentrant = true});
  ASSERT_TRUE(outer.ok()) << outer.status().ToString();
  auto inner = locker.Acquire(name, {.wait = kWait, .reentrant = true});
  ASSERT_TRUE(inner.ok()) << inner.status().ToString();
  EXPECT_EQ(inner->token(), outer->token());
  EXPECT_TRUE(inner->lost() == outer->lost());  // one loss signal for both
  EXPECT_EQ(other.Acquire(name).status().code(), Code::kContended);

  EXPECT_TRUE(inner->Release().ok());
  EXPECT_FALSE(inner->held());
  EXPECT_TRUE(outer->held());
  auto state = backend_->Inspect(name);
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->held);
  EXPECT_EQ(state->token, outer->token());
  EXPECT_EQ(other.Acquire(name).status().code(), Code::kContended);

  EXPECT_TRUE(outer->Release().ok());
  EXPECT_FALSE(backend_->Inspect(name)->held);
  auto next = other.Acquire(name);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_GT(next->token(), outer->token());
}

TEST_P(BackendConformance, MixingReentrantAndNonReentrantHoldsOnOneThreadFailsAtOnce) {
  const std::string plain = Name("-plain");
  const std::string reentrant = Name("-reentrant");
  auto counted = std::make_shared<FaultyBackend>(backend_);
  Locker locker(counted);
  auto a = locker.Acquire(plain);
  auto b = locker.Acquire(reentrant, {.reentrant = true});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const auto start = Steady::now();
  auto again_a = locker.Acquire(plain, {.wait = kWait, .reentrant = true});
  auto again_b = locker.Acquire(reentrant, {.wait = kWait});
  EXPECT_LT(Steady::now() - start, kAtOnce);
  EXPECT_EQ(again_a.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(again_b.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(counted->calls(Op::kTryAcquire), 2);
  EXPECT_TRUE(a->held());
  EXPECT_TRUE(b->held());
  EXPECT_TRUE(backend_->Inspect(plain)->held);
  EXPECT_TRUE(backend_->Inspect(reentrant)->held);
}

// Reentrancy is per thread: another thread of the same Locker is another holder, and
// waits, reentrant or not, until the first releases.
TEST_P(BackendConformance, AnotherThreadOfTheSameLockerWaitsForTheHolder) {
  for (bool reentrant : {false, true}) {
    SCOPED_TRACE(reentrant ? "reentrant" : "not reentrant");
    const std::string name = Name();
    auto waits = std::make_shared<WaitingCounter>();
    Locker locker(backend_, {.listener = waits});
    auto held = locker.Acquire(name, {.reentrant = reentrant});
    ASSERT_TRUE(held.ok()) << held.status().ToString();
    std::atomic<bool> done{false};
    std::optional<Result<Lock>> got;
    std::thread waiter([&] {
      got.emplace(locker.Acquire(name, {.wait = seconds(30), .reentrant = reentrant}));
      done = true;
    });
    // The waiter found it held and waits (the event comes before its wait begins).
    const bool waiting = WaitFor([&] { return waits->waiting() == 1; });
    EXPECT_FALSE(done.load());
    const FencingToken first = held->token();
    EXPECT_TRUE(held->Release().ok());
    waiter.join();
    ASSERT_TRUE(waiting);
    ASSERT_TRUE(got->ok()) << got->status().ToString();
    EXPECT_GT((*got)->token(), first);
    EXPECT_TRUE((*got)->held());
  }
}

}  // namespace dlock::test
