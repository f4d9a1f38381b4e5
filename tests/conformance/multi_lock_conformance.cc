// docs/semantics.md, "Multi-locks", on every backend: Locker::AcquireAll takes a set of
// names all-or-nothing; two callers with overlapping sets in opposite orders never
// deadlock and never overlap on a name; a set that waits for one name holds no other
// meanwhile; a set that cannot be had leaves nothing held. Bad input and the loss signal
// are in tests/unit/locker_test.cc.
#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conformance/backend_conformance.h"
#include "dlock/locker.h"
#include "test_util.h"

namespace dlock::test {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

// How long the two callers of the overlap test take their sets in a loop. The 30 s
// run is the CLI's (tests/integration/cli_run_test.py); here each backend gets a short one.
constexpr auto kLoopFor = milliseconds(1500);

// Whether `name` is free: another owner can take it at once (and gives it back).
bool Free(Backend& backend, const std::string& name) {
  auto lease = backend.TryAcquire({name, seconds(30), NewOwnerId(), {}});
  if (!lease.ok()) return false;
  return backend.Release(*lease).ok();
}

}  // namespace

TEST_P(BackendConformance, OverlappingMultiLocksInOppositeOrdersNeitherDeadlockNorOverlap) {
  const std::string a = Name("/a");
  const std::string b = Name("/b");
  // Inside a set: how many callers hold each name (the resource's view), and the last
  // token each name was seen with.
  std::atomic<int> in_a{0};
  std::atomic<int> in_b{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> regressions{0};
  std::atomic<FencingToken> last_a{0};
  std::atomic<FencingToken> last_b{0};
  auto loop = [&](std::vector<std::string> set, std::vector<Status>& failures, int& rounds) {
    Locker locker(GetParam().make());  // another process
    const auto until = Steady::now() + kLoopFor;
    while (Steady::now() < until) {
      auto held = locker.AcquireAll(set, {.wait = seconds(20)});
      if (!held.ok()) {
        failures.push_back(held.status());
        return;
      }
      if (in_a.fetch_add(1) != 0 || in_b.fetch_add(1) != 0) overlaps++;
      if (held->token(a) <= last_a.exchange(held->token(a))) regressions++;
      if (held->token(b) <= last_b.exchange(held->token(b))) regressions++;
      std::this_thread::yield();
      in_a--;
      in_b--;
      if (Status s = held->Release(); !s.ok()) failures.push_back(s);
      rounds++;
    }
  };
  std::vector<Status> failures_ab;
  std::vector<Status> failures_ba;
  int rounds_ab = 0;
  int rounds_ba = 0;
  std::thread ab([&] { loop({a, b}, failures_ab, rounds_ab); });
  std::thread ba([&] { loop({b, a}, failures_ba, rounds_ba); });
  ab.join();
  ba.join();
  for (const auto& f : failures_ab) ADD_FAILURE() << "{a, b}: " << f.ToString();
  for (const auto& f : failures_ba) ADD_FAILURE() << "{b, a}: " << f.ToString();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(regressions.load(), 0);
  EXPECT_GT(rounds_ab, 0);
  EXPECT_GT(rounds_ba, 0);
  EXPECT_TRUE(Free(*backend_, a));
  EXPECT_TRUE(Free(*backend_, b));
}

TEST_P(BackendConformance, AMultiLockWaitingForOneNameHoldsNoOther) {
  const std::string a = Name("/a");
  const std::string b = Name("/b");
  Locker elsewhere(GetParam().make());
  auto held_b = elsewhere.Acquire(b);
  ASSERT_TRUE(held_b.ok()) << held_b.status().ToString();

  auto waits = std::make_shared<WaitingCounter>();
  Locker locker(GetParam().make(), {.listener = waits});
  std::optional<Result<MultiLock>> got;  // read once `done`, or after the join
  std::atomic<bool> done{false};
  // Joined on every return (a failed assertion waits for it, at most its 30 s).
  std::jthread taker([&] {
    got.emplace(locker.AcquireAll({a, b}, {.wait = seconds(30)}));
    done = true;
  });
  // It tried a (free), found b held, gave a back and waits for b alone (the kWaiting event
  // comes from that wait): a is free meanwhile, for anyone.
  ASSERT_TRUE(WaitFor([&] { return waits->waiting() == 1; }));
  auto held_a = elsewhere.Acquire(a);
  EXPECT_TRUE(held_a.ok()) << held_a.status().ToString();
  // Now b comes free, and a is held elsewhere: it takes b, finds a held, gives b back and
  // waits for a alone.
  const FencingToken b_before = held_b->token();
  ASSERT_TRUE(held_b->Release().ok());
  ASSERT_TRUE(WaitFor([&] { return waits->waiting() == 2; }));
  EXPECT_FALSE(done.load());
  const FencingToken a_before = held_a.ok() ? held_a->token() : 0;
  if (held_a.ok()) {
    EXPECT_TRUE(held_a->Release().ok());
  }
  taker.join();
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  MultiLock& set = **got;
  EXPECT_TRUE(set.held());
  EXPECT_EQ(set.names(), (std::vector<std::string>{a, b}));
  EXPECT_GT(set.token(a), a_before);
  EXPECT_GT(set.token(b), b_before);
  ASSERT_NE(set.lock(b), nullptr);
  EXPECT_EQ(set.lock(b)->lease().name, b);
  EXPECT_EQ(set.lock(b)->token(), set.token(b));
  EXPECT_EQ(set.lock(Name("/not-in-the-set")), nullptr);
  EXPECT_EQ(set.token(Name("/not-in-the-set")), 0U);
  EXPECT_TRUE(set.Release().ok());
  EXPECT_TRUE(Free(*backend_, a));
  EXPECT_TRUE(Free(*backend_, b));
}

TEST_P(BackendConformance, AMultiLockThatCannotBeHadInTimeLeavesNothingHeld) {
  const std::string a = Name("/a");
  const std::string b = Name("/b");
  const std::string c = Name("/c");
  Locker elsewhere(GetParam().make());
  auto held_b = elsewhere.Acquire(b);
  ASSERT_TRUE(held_b.ok()) << held_b.status().ToString();
  Locker locker(backend_);

  auto at_once = locker.AcquireAll({c, b, a});
  EXPECT_EQ(at_once.status().code(), Code::kContended) << at_once.status().ToString();
  EXPECT_NE(at_once.status().message().find(b), std::string::npos) << at_once.status().message();
  EXPECT_TRUE(Free(*backend_, a));
  EXPECT_TRUE(Free(*backend_, c));

  auto waited = locker.AcquireAll({c, b, a}, {.wait = milliseconds(300)});
  EXPECT_EQ(waited.status().code(), Code::kDeadlineExceeded) << waited.status().ToString();
  EXPECT_TRUE(Free(*backend_, a));
  EXPECT_TRUE(Free(*backend_, c));
  EXPECT_TRUE(held_b->held());
}

}  // namespace dlock::test
