// client.h: the etcd v3 calls the lock needs, over one gRPC channel: unary KV and lease
// calls with a per-call deadline and the auth token, a watch that waits for deletions,
// and lease keep-alives on one shared stream (keep_alive.h).
//
// Thread-safety: all members are safe to call from any thread.
#ifndef DLOCK_ETCD_CLIENT_H_
#define DLOCK_ETCD_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>

#include "dlock/backends/etcd.h"
#include "dlock/status.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "etcd/keep_alive.h"

namespace dlock::etcd {

namespace pb = etcdserverpb;

class Client {
 public:
  // Opens the channel, waits up to connect_timeout for a connection, and authenticates
  // when options.user is set. kUnavailable, kFailedPrecondition (auth, TLS files) or
  // kInvalidArgument (endpoints).
  static Result<std::unique_ptr<Client>> Connect(const EtcdOptions& options);
  ~Client();

  Result<pb::RangeResponse> Range(const pb::RangeRequest& request);
  Result<pb::TxnResponse> Txn(const pb::TxnRequest& request);
  // A lease of at least `ttl` (rounded up to whole seconds; the server may raise it).
  Result<pb::LeaseGrantResponse> LeaseGrant(std::chrono::milliseconds ttl);
  // kNotHeld if the lease is already gone.
  Status LeaseRevoke(std::int64_t lease);
  // The lease's TTL in seconds after a keep-alive on the shared stream; 0: it is gone.
  Result<std::int64_t> KeepAlive(std::int64_t lease);
  KeepAliveStream& keep_alive() { return *keep_alive_; }
  // The lease's remaining TTL, without renewing it. kNotHeld if it is gone.
  Result<std::chrono::milliseconds> TimeToLive(std::int64_t lease);

  // Waits until a key in [key, range_end) (range_end empty: just `key`) is deleted at or
  // after `revision`. OK then, or when etcd cancels the watch (compaction: look again);
  // kDeadlineExceeded, kCancelled, kUnavailable otherwise.
  Status WaitForDelete(const std::string& key, const std::string& range_end, std::int64_t revision,
                       std::chrono::steady_clock::time_point deadline, std::stop_token stop);

 private:
  Client() = default;
  // A context with the call deadline and the auth token.
  std::unique_ptr<grpc::ClientContext> Context();
  Status Authenticate();
  // Runs `call` (a unary call on a context); re-authenticates once if the token expired.
  template <typename Response, typename Call>
  Result<Response> Unary(const char* what, Call call);
  Status FromGrpc(const grpc::Status& status, const char* what) const;

  EtcdOptions options_;
  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::KV::Stub> kv_;
  std::unique_ptr<pb::Lease::Stub> lease_;
  std::unique_ptr<pb::Watch::Stub> watch_;
  std::unique_ptr<pb::Auth::Stub> auth_;
  std::mutex token_mu_;
  std::string token_;
  std::unique_ptr<KeepAliveStream> keep_alive_;
};

}  // namespace dlock::etcd

#endif  // DLOCK_ETCD_CLIENT_H_
