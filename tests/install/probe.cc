// scripts/check-install.sh links this against an installed dlock (by CMake components,
// and by `pkg-config dlock-redis`). It calls into the core, and into each component that
// DLOCK_PROBE_<NAME> names (TESTING: memory and testing; REDIS and REDLOCK for the redis
// component), so that the link needs that component's library and
// everything the library needs; the Redis store at a closed port must be unavailable.
#include <dlock/lease.h>
#include <dlock/status.h>
#include <dlock/uri.h>

#include <iostream>
#ifdef DLOCK_PROBE_TESTING
#include <dlock/backends/memory.h>
#include <dlock/testing/faulty_backend.h>
#endif
#ifdef DLOCK_PROBE_REDIS
#include <dlock/backends/redis.h>
#endif
#ifdef DLOCK_PROBE_REDLOCK
#include <dlock/backends/redlock.h>
#endif
#ifdef DLOCK_PROBE_ETCD
#include <dlock/backends/etcd.h>
#endif
#ifdef DLOCK_PROBE_ZOOKEEPER
#include <dlock/backends/zookeeper.h>
#endif
#ifdef DLOCK_PROBE_POSTGRES
#include <dlock/fence/postgres.h>
#endif
#ifdef DLOCK_PROBE_PROMETHEUS
#include <dlock/prometheus.h>
#endif
#ifdef DLOCK_PROBE_OPEN
#include <dlock/open.h>
#endif

namespace {

// A bad URI or option is refused by each component's own code, before any connection.
bool Refused(const dlock::Status& status) { return status.code() == dlock::Code::kInvalidArgument; }

}  // namespace

int main() {
  if (!dlock::ValidateName("probe").ok()) return 1;
#ifdef DLOCK_PROBE_TESTING
  dlock::testing::FaultyBackend faulty(dlock::MakeMemoryBackend());
  if (faulty.kind() != "memory") return 1;
#endif
#ifdef DLOCK_PROBE_REDIS
  dlock::RedisOptions options;
  options.port = 1;  // closed
  auto backend = dlock::MakeRedisBackend(options);
  std::cout << backend.status().ToString() << "\n";
  if (backend.status().code() != dlock::Code::kUnavailable) return 1;
#endif
#ifdef DLOCK_PROBE_REDLOCK
  if (!Refused(dlock::MakeRedlockBackend({}).status())) return 1;  // no instances
#endif
#ifdef DLOCK_PROBE_ETCD
  if (!Refused(dlock::EtcdOptionsFromUri(*dlock::ParseBackendUri("etcd://h?colour=x")).status())) {
    return 1;
  }
#endif
#ifdef DLOCK_PROBE_ZOOKEEPER
  if (!Refused(
          dlock::ZooKeeperOptionsFromUri(*dlock::ParseBackendUri("zk://h?colour=x")).status())) {
    return 1;
  }
#endif
#ifdef DLOCK_PROBE_POSTGRES
  if (dlock::fence::MakePostgresGuard({.conninfo = "port=notaport"}).ok()) return 1;
#endif
#ifdef DLOCK_PROBE_PROMETHEUS
  if (dlock::FanOut({}) == nullptr) return 1;
#endif
#ifdef DLOCK_PROBE_OPEN
  if (!Refused(dlock::OpenBackend("mysql://h").status())) return 1;
#endif
  std::cout << "probe: ok\n";
  return 0;
}
