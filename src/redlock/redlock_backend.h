// redlock_backend.h: the redlock:// backend (see dlock/backends/redlock.h): every call goes
// to all instances at once and succeeds on a majority; fencing tokens are made strict by a
// second round (fencing.h). Its calls are defined one to a file: acquire.cc, extend.cc,
// release.cc, inspect.cc, wait.cc; the rest in redlock_backend.cc.
//
// Thread-safety: safe for concurrent use, as Backend says. Callbacks that may run on an
// instance's I/O thread after a call returned capture nothing of the backend but what it
// shares with them (scripts, retries).
#ifndef DLOCK_SRC_REDLOCK_REDLOCK_BACKEND_H_
#define DLOCK_SRC_REDLOCK_REDLOCK_BACKEND_H_

#include <chrono>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "dlock/async_backend.h"
#include "dlock/backend.h"
#include "dlock/backends/redlock.h"
#include "redis/client/client.h"
#include "redis/client/gather.h"
#include "redlock/release_retries.h"
#include "redlock/round.h"

namespace dlock::redlock {

class Retake;

class RedlockBackend final : public Backend, public AsyncBackend {
 public:
  using Steady = std::chrono::steady_clock;

  // The instances round 1 won, and the counters they returned: the token is the largest.
  struct Tally {
    std::vector<std::size_t> won;
    FencingToken token = 0;
    FencingToken lowest = 0;
  };

  // `clients`: one per options.instances entry, in that order.
  RedlockBackend(RedlockOptions options, Clients clients);

  Result<Lease> TryAcquire(const AcquireRequest& request) override;
  // Also re-takes the instances that lost the key while a majority holds it (retake.h).
  Result<Lease> Extend(const Lease& lease, std::chrono::milliseconds ttl) override;
  Status Release(const Lease& lease) override;
  Status ForceRelease(std::string_view name) override;
  // Held when a majority holds it; then the quorum-th longest TTL remains.
  Result<LockState> Inspect(std::string_view name) override;
  // OK once a majority of instances is free of the key.
  Status WaitForRelease(std::string_view name, Steady::time_point deadline,
                        std::stop_token stop) override;
  // The same rounds without blocking, each instance's call pipelined on its connections:
  // `done` runs on an instance's I/O thread once a majority decided, or at the instance
  // timeout (AsyncBackend). The fencing round, where it is needed, follows the first.
  void TryAcquireAsync(const AcquireRequest& request, AcquireCallback done) override;
  void ReleaseAsync(const Lease& lease, StatusCallback done) override;
  AsyncBackend* async() override { return this; }
  std::string_view kind() const override { return "redlock"; }
  DriftMargin drift() const override { return drift_; }

 private:
  // The lock's keys on each instance (its hash, its fencing counter), and the channel its
  // releases are published on.
  std::vector<std::string> Keys(const std::string& name) const;
  std::string Channel(std::string_view name) const;

  // How long a call that is not tied to a TTL waits for slow instances.
  std::chrono::milliseconds DefaultTimeout() const;
  // A small fraction of the TTL, so that a slow instance does not eat the validity.
  std::chrono::milliseconds InstanceTimeout(std::chrono::milliseconds ttl) const;

  // Round 1 is decided once a majority is won.
  redis::Gather::Enough WonQuorum() const;
  // Whether round 2 (fencing.h) must raise the won instances' counters to the token.
  bool NeedsRaise(const Tally& tally) const;
  // nullopt if round 1 won a majority in time; else its error, after releasing everywhere.
  std::optional<Status> Round1Failure(const AcquireRequest& request, const redis::Replies& round1,
                                      const Tally& tally, Steady::time_point valid_until);
  // The lease, unless its validity ended meanwhile (then released everywhere, kUnavailable).
  Result<Lease> Granted(const AcquireRequest& request, const redis::Replies& round1,
                        const Tally& tally, Steady::time_point valid_until);

  // TryAcquire's error for a round 1 that won `won` instances, short of a majority (or too
  // late): kUnavailable if too few answered, else kContended, naming a holder if one
  // answered.
  Status AcquireFailure(const std::string& name, const redis::Replies& round1, int won) const;

  // Extend's round: the extend script on every instance, until a majority extended or the
  // instance timeout; each reply is watched by `retake`.
  redis::Replies ExtendRound(const Lease& lease, std::chrono::milliseconds ttl,
                             const std::vector<std::string>& keys, const Retake& retake);
  // Extend's error when `extended` instances, short of a majority, extended: kNotHeld if
  // even the instances that did not answer could not make one, else kUnavailable.
  Status ExtendFailure(const std::string& name, const redis::Replies& replies, int extended) const;

  // Releases `owner`'s lock (any owner's if empty) on every instance, and waits until it
  // is decided: OK when a majority released it (or some did and the rest may), kNotHeld
  // (`not_held` says why) or kUnavailable otherwise. The rest go on in the background.
  Status ReleaseWaiting(const std::string& name, const std::string& owner,
                        std::string_view not_held);
  // A release round is decided when a majority released it, or when even the instances
  // that have not answered could not make one.
  redis::Gather::Enough ReleaseDecided() const;
  // ReleaseWaiting's answer from the round's replies.
  Status ReleaseOutcome(const std::string& name, const redis::Replies& replies,
                        std::string_view not_held) const;
  // On every instance, also those that did not answer: fire and forget. An instance that
  // did not answer `round1` is sent the release again until `ttl` passed (ReleaseRetries);
  // one that answered it "held by another" is skipped (round 1 wrote nothing there, and a
  // release is a no-op for an owner that does not hold the lock).
  void ReleaseEverywhere(const std::string& name, const std::string& owner,
                         const redis::Replies* round1 = nullptr,
                         std::chrono::milliseconds ttl = std::chrono::milliseconds(0));

  // When a majority of instances will be free of the key, from one look at each (a
  // paused instance is waited for only briefly): nullopt if a majority is free now, else
  // when, without a release, enough keys expire to make one (clock_'s time). kUnavailable
  // if fewer than a majority answered.
  Result<std::optional<Steady::time_point>> MajorityFreeAt(std::string_view name);

  const RedlockOptions options_;
  const Clients clients_;
  const int n_;
  const int quorum_;
  const std::shared_ptr<Clock> clock_;
  const std::string prefix_;
  const DriftMargin drift_;  // the first instance's
  const HolderInfo holder_;
  const redis::Script acquire_, raise_, extend_, inspect_;
  const std::shared_ptr<const redis::Script> release_script_;  // shared with retries
  const std::shared_ptr<const redis::Script> retake_script_;   // shared with callbacks
  const std::shared_ptr<ReleaseRetries> retries_ = std::make_shared<ReleaseRetries>();
};

}  // namespace dlock::redlock

#endif  // DLOCK_SRC_REDLOCK_REDLOCK_BACKEND_H_
