// guard_checks.h: what every store's fence::Guard must do, checked against a real store:
// the rule (a token at least the highest is applied, a lower one is kStale and writes
// nothing), concurrent writers, bad input, and a holder paused past its TTL. The store's
// side (its write vocabulary and how to read it back) comes as a FencedStore.
#ifndef DLOCK_TESTS_INTEGRATION_GUARD_CHECKS_H_
#define DLOCK_TESTS_INTEGRATION_GUARD_CHECKS_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "dlock/fence.h"
#include "dlock/locker.h"

namespace dlock::test {

struct FencedStore {
  // The guard's write that sets `place` (a key, a node) to `value`, creating it if needed.
  std::function<std::vector<std::string>(const std::string& place, const std::string& value)> set;
  // What `place` holds; std::nullopt if it does not exist.
  std::function<std::optional<std::string>(const std::string& place)> get;
  // The places under `parent` ("parent/..."), each with what it holds, in the order the
  // store applied their writes (its revisions, zxids).
  std::function<std::vector<std::pair<std::string, std::string>>(const std::string& parent)>
      history;
};

// guard.Highest(resource), or ~0 after a test failure.
inline FencingToken HighestOf(fence::Guard& guard, const std::string& resource) {
  auto highest = guard.Highest(resource);
  EXPECT_TRUE(highest.ok()) << resource << ": " << highest.status().ToString();
  return highest.ok() ? *highest : ~FencingToken{0};
}

// Tokens 5, 5, 4, 7 on `resource`, each writing `place`: applied, applied (>=), kStale
// with nothing written, applied.
inline void ExpectTheFencingRule(fence::Guard& guard, const std::string& resource,
                                 const std::string& place, const FencedStore& store) {
  ASSERT_EQ(HighestOf(guard, resource), 0u);
  auto five = guard.Apply(resource, 5, store.set(place, "five"));
  ASSERT_TRUE(five.ok()) << five.status().ToString();
  EXPECT_EQ(store.get(place), "five");
  EXPECT_EQ(HighestOf(guard, resource), 5u);

  auto again = guard.Apply(resource, 5, store.set(place, "five again"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(store.get(place), "five again");

  auto four = guard.Apply(resource, 4, store.set(place, "four"));
  EXPECT_EQ(four.status().code(), Code::kStale) << four.status().ToString();
  EXPECT_NE(four.status().message().find("has seen token 5"), std::string::npos)
      << four.status().message();
  EXPECT_EQ(store.get(place), "five again");
  EXPECT_EQ(HighestOf(guard, resource), 5u);

  auto seven = guard.Apply(resource, 7, store.set(place, "seven"));
  ASSERT_TRUE(seven.ok()) << seven.status().ToString();
  EXPECT_EQ(store.get(place), "seven");
  EXPECT_EQ(HighestOf(guard, resource), 7u);
}

// Several threads write `resource` with interleaved tokens, each write to a place of its
// own under `parent` holding its token. Every write is applied or kStale; the store's
// history of the applied ones never goes down in token; nothing of a stale one is
// written; the highest token is the highest applied, and no applied write ever sees it
// lower than its own token.
inline void ExpectConcurrentWritersKeepTheTokenOrder(fence::Guard& guard,
                                                     const std::string& resource,
                                                     const std::string& parent,
                                                     const FencedStore& store) {
  constexpr int kThreads = 4;
  constexpr int kWrites = 25;
  struct Attempt {
    FencingToken token = 0;
    std::string place;
    bool applied = false;
  };
  std::vector<std::vector<Attempt>> attempts(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) + 1);
      std::uniform_int_distribution<int> jitter(-6, 6);
      for (int i = 0; i < kWrites; ++i) {
        Attempt a;
        a.token = static_cast<FencingToken>(std::max(1, i * kThreads + t + jitter(rng)));
        a.place = parent + "/" + std::to_string(t) + "-" + std::to_string(i);
        auto got = guard.Apply(resource, a.token, store.set(a.place, std::to_string(a.token)));
        if (got.ok()) {
          a.applied = true;
          EXPECT_GE(HighestOf(guard, resource), a.token);
        } else {
          EXPECT_EQ(got.status().code(), Code::kStale) << got.status().ToString();
        }
        attempts[static_cast<std::size_t>(t)].push_back(std::move(a));
      }
    });
  }
  for (auto& thread : threads) thread.join();

  std::map<std::string, FencingToken> applied;
  std::vector<FencingToken> stale;
  FencingToken highest_applied = 0;
  for (const auto& per_thread : attempts) {
    for (const auto& a : per_thread) {
      if (a.applied) {
        applied[a.place] = a.token;
        highest_applied = std::max(highest_applied, a.token);
      } else {
        stale.push_back(a.token);
      }
    }
  }
  ASSERT_FALSE(applied.empty());
  EXPECT_EQ(HighestOf(guard, resource), highest_applied);
  // A write is stale only after a higher one was applied.
  for (FencingToken token : stale) EXPECT_LT(token, highest_applied);

  const auto history = store.history(parent);
  EXPECT_EQ(history.size(), applied.size()) << "a stale write left something in the store";
  FencingToken previous = 0;
  for (const auto& [place, value] : history) {
    auto it = applied.find(place);
    ASSERT_NE(it, applied.end()) << place << " was written by a write refused as stale";
    EXPECT_EQ(value, std::to_string(it->second)) << place;
    EXPECT_GE(it->second, previous)
        << place << ": token " << it->second << " applied after token " << previous;
    previous = std::max(previous, it->second);
  }
  std::printf("%zu writes applied, %zu stale, highest token %llu\n", applied.size(), stale.size(),
              static_cast<unsigned long long>(highest_applied));
}

// Token 0, an empty resource, and each of `bad_writes` are kInvalidArgument, and write
// nothing: `place` stays missing and `resource` has seen no token.
inline void ExpectBadInputWritesNothing(fence::Guard& guard, const std::string& resource,
                                        const std::string& place, const FencedStore& store,
                                        const std::vector<std::vector<std::string>>& bad_writes) {
  EXPECT_EQ(guard.Apply(resource, 0, store.set(place, "x")).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(guard.Apply("", 3, store.set(place, "x")).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(guard.Apply(resource, 3, {}).status().code(), Code::kInvalidArgument);
  for (const auto& write : bad_writes) {
    auto refused = guard.Apply(resource, 3, write);
    EXPECT_EQ(refused.status().code(), Code::kInvalidArgument)
        << (write.empty() ? "" : write[0]) << " with " << write.size() << " parts";
    EXPECT_EQ(refused.status().message().find('\n'), std::string::npos);
  }
  EXPECT_EQ(store.get(place), std::nullopt);
  EXPECT_EQ(HighestOf(guard, resource), 0u);
  EXPECT_EQ(guard.Highest("").status().code(), Code::kInvalidArgument);
}

// The pattern fencing exists for: `first` takes the lock `name` with `ttl` and no
// renewal and writes `place` through the guard; then it pauses (`pause` returns once
// its TTL has passed, or does nothing if `second`'s wait covers it); `second` takes the
// lock (a higher token) and writes; the first holder, waking up, writes with its old
// token and is refused: kStale, and the second holder's value stays.
inline void ExpectAHolderPausedPastItsTtlIsRefused(
    fence::Guard& guard, Locker& first, Locker& second, const std::string& name,
    std::chrono::milliseconds ttl, const std::function<void()>& pause, const std::string& resource,
    const std::string& place, const FencedStore& store) {
  auto a = first.Acquire(name, {.ttl = ttl, .auto_renew = false});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto a_wrote = guard.Apply(resource, a->token(), store.set(place, "from the first holder"));
  ASSERT_TRUE(a_wrote.ok()) << a_wrote.status().ToString();

  pause();
  // Held by the first until its lease runs out: this waits for that, no longer.
  auto b = second.Acquire(name, {.wait = std::chrono::seconds(30), .ttl = ttl});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_GT(b->token(), a->token());
  auto b_wrote = guard.Apply(resource, b->token(), store.set(place, "from the second holder"));
  ASSERT_TRUE(b_wrote.ok()) << b_wrote.status().ToString();

  // The first holder resumes, unaware, and writes with the token it was given.
  auto late = guard.Apply(resource, a->token(), store.set(place, "late, from the first"));
  EXPECT_EQ(late.status().code(), Code::kStale) << late.status().ToString();
  EXPECT_EQ(store.get(place), "from the second holder");
  EXPECT_EQ(HighestOf(guard, resource), b->token());
  EXPECT_FALSE(a->held());
}

}  // namespace dlock::test

#endif  // DLOCK_TESTS_INTEGRATION_GUARD_CHECKS_H_
