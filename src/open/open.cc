#include "dlock/open.h"

#include <fmt/format.h>

#include "dlock/backends/file.h"
#include "dlock/fence/file.h"
#ifdef DLOCK_WITH_REDIS
#include "dlock/backends/redis.h"
#include "dlock/backends/redis_cluster.h"
#include "dlock/backends/redis_sentinel.h"
#include "dlock/fence/redis.h"
#endif
#ifdef DLOCK_WITH_REDLOCK
#include "dlock/backends/redlock.h"
#endif
#ifdef DLOCK_WITH_ETCD
#include "dlock/backends/etcd.h"
#include "dlock/fence/etcd.h"
#endif
#ifdef DLOCK_WITH_POSTGRES
#include "dlock/fence/postgres.h"
#endif
#ifdef DLOCK_WITH_ZOOKEEPER
#include "dlock/backends/zookeeper.h"
#include "dlock/fence/zookeeper.h"
#endif

namespace dlock {

Result<std::shared_ptr<Backend>> OpenBackend(const BackendUri& uri) {
  if (uri.scheme == "file") {
    auto options = FileOptionsFromUri(uri);
    if (!options.ok()) return options.status();
    return MakeFileBackend(*options);
  }
#ifdef DLOCK_WITH_REDIS
  if (uri.scheme == "redis" || uri.scheme == "rediss") {
    auto options = RedisOptionsFromUri(uri);
    if (!options.ok()) return options.status();
    return MakeRedisBackend(*options);
  }
  if (uri.scheme == "redis+sentinel" || uri.scheme == "rediss+sentinel") {
    auto options = RedisSentinelOptionsFromUri(uri);
    if (!options.ok()) return options.status();
    return MakeRedisSentinelBackend(*options);
  }
  if (uri.scheme == "redis+cluster" || uri.scheme == "rediss+cluster") {
    auto options = RedisClusterOptionsFromUri(uri);
    if (!options.ok()) return options.status();
    return MakeRedisClusterBackend(*options);
  }
#endif
#ifdef DLOCK_WITH_REDLOCK
  if (uri.scheme == "redlock") {
    auto options = RedlockOptionsFromUri(uri);
    if (!options.ok()) return options.status();
    return MakeRedlockBackend(*options);
  }
#endif
#ifdef DLOCK_WITH_ETCD
  if (uri.scheme == "etcd") {
    auto options = EtcdOptionsFromUri(uri);
    if (!options.ok()) return options.status();
    return MakeEtcdBackend(*options);
  }
#endif
#ifdef DLOCK_WITH_ZOOKEEPER
  if (uri.scheme == "zk") {
    auto options = ZooKeeperOptionsFromUri(uri);
    if (!options.ok()) return options.status();
    return MakeZooKeeperBackend(*options);
  }
#endif
  if (uri.scheme == "redis" || uri.scheme == "rediss" || uri.scheme == "redis+sentinel" ||
      uri.scheme == "rediss+sentinel" || uri.scheme == "redis+cluster" ||
      uri.scheme == "rediss+cluster" || uri.scheme == "redlock" || uri.scheme == "etcd" ||
      uri.scheme == "zk") {
    return UnimplementedError(fmt::format(
        "the {}:// backend is not in this build (see README for what is built)", uri.scheme));
  }
  return InvalidArgumentError(fmt::format(
      "unknown backend scheme '{}://'; use file://, redis://, rediss://, redis+sentinel://, "
      "rediss+sentinel://, redis+cluster://, rediss+cluster://, redlock://, etcd:// or zk://",
      uri.scheme));
}

Result<std::shared_ptr<Backend>> OpenBackend(std::string_view text) {
  auto uri = ParseBackendUri(text);
  if (!uri.ok()) return uri.status();
  return OpenBackend(*uri);
}

Result<std::unique_ptr<fence::Guard>> OpenGuard(std::string_view store) {
  if (store == "file") return fence::MakeFileGuard();
#ifdef DLOCK_WITH_POSTGRES
  // libpq reads its own URIs (and their options) itself.
  if (store.starts_with("postgres://") || store.starts_with("postgresql://")) {
    return fence::MakePostgresGuard({.conninfo = std::string(store)});
  }
#endif
  auto uri = ParseBackendUri(store);
  if (!uri.ok()) return uri.status();
  const std::string& scheme = uri->scheme;
  if (scheme == "file") {
    return InvalidArgumentError(
        "a fenced file is named by its path: give 'file' as the store and the path as the "
        "resource");
  }
#ifdef DLOCK_WITH_REDIS
  if (scheme == "redis" || scheme == "rediss") {
    auto options = RedisOptionsFromUri(*uri);
    if (!options.ok()) return options.status();
    return fence::MakeRedisGuard(*options);
  }
#endif
#ifdef DLOCK_WITH_ETCD
  if (scheme == "etcd") {
    auto options = EtcdOptionsFromUri(*uri);
    if (!options.ok()) return options.status();
    return fence::MakeEtcdGuard(*options);
  }
#endif
#ifdef DLOCK_WITH_ZOOKEEPER
  if (scheme == "zk") {
    auto options = ZooKeeperOptionsFromUri(*uri);
    if (!options.ok()) return options.status();
    return fence::MakeZooKeeperGuard(*options);
  }
#endif
  if (scheme == "redis" || scheme == "rediss" || scheme == "etcd" || scheme == "zk" ||
      scheme == "postgres" || scheme == "postgresql") {
    return UnimplementedError(
        fmt::format("the {}:// fencing guard is not in this build (see README)", scheme));
  }
  return InvalidArgumentError(fmt::format(
      "unknown resource store '{}://'; use file, redis://, rediss://, etcd://, zk:// or "
      "postgres://",
      scheme));
}

}  // namespace dlock
