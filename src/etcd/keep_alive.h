// keep_alive.h: etcd lease keep-alives on one bidirectional LeaseKeepAlive stream per
// client, instead of one unary call per renewal. Answers are matched to callers by lease
// id; a broken stream is reopened by the next call. Also keeps the leases of queued
// waiters alive in the background (Track), so that waiting longer than the TTL does not
// cost a waiter its place; held leases are renewed by their Locker, not here.
//
// Thread-safety: all members are safe to call from any thread.
#ifndef DLOCK_ETCD_KEEP_ALIVE_H_
#define DLOCK_ETCD_KEEP_ALIVE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "dlock/status.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace dlock::etcd {

class KeepAliveStream {
 public:
  // `make_context` gives each stream its context (auth token; no deadline).
  KeepAliveStream(etcdserverpb::Lease::Stub* stub,
                  std::function<std::unique_ptr<grpc::ClientContext>()> make_context);
  ~KeepAliveStream();  // cancels the stream, stops the threads

  // Sends one keep-alive for `lease` and waits up to `timeout` for its answer: the TTL
  // left in seconds (0: the lease is gone). kUnavailable if the stream broke or no
  // answer came in time.
  Result<std::int64_t> KeepAlive(std::int64_t lease, std::chrono::milliseconds timeout);

  // Keeps `lease` alive every `period` in the background until Untrack.
  void Track(std::int64_t lease, std::chrono::milliseconds period);
  void Untrack(std::int64_t lease);

 private:
  using Stream = grpc::ClientReaderWriter<etcdserverpb::LeaseKeepAliveRequest,
                                          etcdserverpb::LeaseKeepAliveResponse>;
  struct Open;
  using Waiter = std::shared_ptr<std::promise<Result<std::int64_t>>>;
  // The current stream, opened if there is none or it broke; moves the threads of
  // finished streams into `reap`, to be joined outside mu_. Under mu_.
  std::shared_ptr<Open> CurrentLocked(std::vector<std::thread>& reap);
  // Sends a keep-alive for `lease` on the current stream; its answer goes to `waiter`
  // (null: nobody waits). Never holds mu_ while writing.
  std::shared_ptr<Open> Send(std::int64_t lease, Waiter waiter);
  void ReadLoop(std::shared_ptr<Open> open);
  void TrackLoop(std::stop_token stop);

  etcdserverpb::Lease::Stub* stub_;
  std::function<std::unique_ptr<grpc::ClientContext>()> make_context_;
  std::mutex mu_;
  std::shared_ptr<Open> open_;
  std::vector<std::pair<std::shared_ptr<Open>, std::thread>> readers_;  // one per stream
  std::map<std::int64_t, std::chrono::milliseconds> tracked_;
  std::condition_variable_any tracked_cv_;
  std::jthread tracker_;
};

}  // namespace dlock::etcd

#endif  // DLOCK_ETCD_KEEP_ALIVE_H_
