// session.h: one ZooKeeper session (a zhandle_t of the multi-threaded C client), its
// state, and one-shot watches that wake a waiting thread.
//
// Thread-safety: all members are safe to call from any thread. The C client calls back
// on its own completion thread; nothing here blocks that thread.
#ifndef DLOCK_ZOOKEEPER_SESSION_H_
#define DLOCK_ZOOKEEPER_SESSION_H_

#include <zookeeper/zookeeper.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "dlock/status.h"
#include "zookeeper/tls_bridge.h"

namespace dlock::zk {

struct SessionConfig {
  std::string hosts;  // "host:port,host:port"
  std::chrono::milliseconds timeout{30000};
  std::string digest;  // "user:password" for digest auth; empty: none
  std::chrono::milliseconds connect_timeout{5000};
  // TLS (?tls=true): the C client connects to the bridge's loopback listeners for `hosts`
  // instead; the session keeps the bridge alive. Null: plain TCP to `hosts`.
  std::shared_ptr<TlsBridge> bridge;
};

class Session {
 public:
  // Connects and waits up to connect_timeout for the session. kUnavailable if no server
  // answered in time (saying so if a server took the TCP connection but not the
  // ZooKeeper handshake, as a TLS port does) or, with TLS, as soon as the TLS connection
  // to every host has failed (the last failure, one line); kFailedPrecondition if the
  // server refused our credentials.
  static Result<std::shared_ptr<Session>> Open(const SessionConfig& config);

  // Closes the session: the server deletes its ephemeral nodes at once.
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  zhandle_t* handle() const { return zh_; }
  // The session timeout the server granted (within its min/maxSessionTimeout); after a
  // reconnection to a server that granted less, the least granted so far.
  std::chrono::milliseconds timeout() const {
    return std::chrono::milliseconds(timeout_ms_.load());
  }
  std::int64_t id() const { return id_; }
  // The session ended (expired, or auth failed); every ephemeral node of it is gone. As
  // soon as the C client's handle knows, before its event reaches us.
  bool dead() const;
  // Waits until connected; false if the session is dead or `deadline` passed first.
  bool WaitConnected(std::chrono::steady_clock::time_point deadline) const;

 private:
  Session() = default;
  static void OnEvent(zhandle_t* zh, int type, int state, const char* path, void* context);
  void NoteTimeout(int granted_ms);
  // While opening: a TLS connection to host `host` (of `hosts` in all) failed; `refused`:
  // TLS refused it (see TlsBridge::WatchFailures), which ends the wait once every host has.
  void NoteTlsFailure(std::size_t host, std::size_t hosts, const Status& failure, bool refused);
  // Why the session did not open by the deadline (the session is not dead).
  Status NotOpened(const SessionConfig& config) const;

  std::shared_ptr<TlsBridge> bridge_;  // outlives zh_ (closed in ~Session)
  zhandle_t* zh_ = nullptr;
  std::atomic<std::int64_t> timeout_ms_{0};
  std::int64_t id_ = 0;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  int state_ = 0;
  std::vector<bool> tls_failed_;  // TLS refused, by host, while opening
  bool tls_all_failed_ = false;
  Status tls_failure_;  // the last one
};

// A one-shot wake-up for a thread that waits on a ZooKeeper watch. Pass Watch::Callback
// and Watch::context() to zoo_wexists / zoo_wget_children; the watch may fire after the
// Watch is gone (ZooKeeper cannot cancel it), which is then harmless.
class Watch {
 public:
  Watch();
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  void* context() const;
  static void Callback(zhandle_t* zh, int type, int state, const char* path, void* context);
  // Wakes every pending Watch (a session event may have lost their watches).
  static void WakeAll();

  // OK once fired; kDeadlineExceeded at `deadline`; kCancelled on `stop`.
  Status Wait(std::chrono::steady_clock::time_point deadline, std::stop_token stop);

 private:
  struct State;
  std::shared_ptr<State> state_;
  std::uint64_t id_;
};

// A Status for a ZooKeeper return code `rc` of the operation `what` (a short phrase
// naming the call and path).
Status ZkError(int rc, const std::string& what);

}  // namespace dlock::zk

#endif  // DLOCK_ZOOKEEPER_SESSION_H_
