// scripts/check-install.sh links this against an installed dlock (by CMake components,
// and by `pkg-config dlock-redis`): a call into the core, and into the Redis backend
// when DLOCK_PROBE_REDIS is defined, whose store at a closed port must be unavailable.
#include <dlock/lease.h>
#include <dlock/status.h>

#include <iostream>
#ifdef DLOCK_PROBE_REDIS
#include <dlock/backends/redis.h>
#endif

int main() {
  if (!dlock::ValidateName("probe").ok()) return 1;
#ifdef DLOCK_PROBE_REDIS
  dlock::RedisOptions options;
  options.port = 1;  // closed
  auto backend = dlock::MakeRedisBackend(options);
  std::cout << backend.status().ToString() << "\n";
  if (backend.status().code() != dlock::Code::kUnavailable) return 1;
#endif
  std::cout << "probe: ok\n";
  return 0;
}
