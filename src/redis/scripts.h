// scripts.h: the Lua scripts of the Redis backend. KEYS[1] is the lock's hash,
// KEYS[2] its fencing counter; both share the hash tag {NAME}.
#ifndef DLOCK_SRC_REDIS_SCRIPTS_H_
#define DLOCK_SRC_REDIS_SCRIPTS_H_

namespace dlock::redis {

// ARGV: owner, ttl_ms, host, pid, since_ms.
// Returns {1, token} when acquired; {0, pttl_ms, token, host, pid} when held. Idempotent
// for one owner id (one acquisition): a retry after a lost reply gets the same grant.
inline constexpr const char* kAcquireScript = R"lua(
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, redis.call('HGET', KEYS[1], 'token')}
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local h = redis.call('HMGET', KEYS[1], 'token', 'host', 'pid')
  return {0, redis.call('PTTL', KEYS[1]), h[1] or '0', h[2] or '', h[3] or '0'}
end
local token = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', token, 'host', ARGV[3],
           'pid', ARGV[4], 'since', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, token}
)lua";

// ARGV: owner, ttl_ms. Returns the token if this owner holds the lock, else nil.
inline constexpr const char* kExtendScript = R"lua(
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return redis.call('HGET', KEYS[1], 'token')
end
return false
)lua";

// ARGV: owner ('' to release whoever holds it), channel. Returns 1 if released.
inline constexpr const char* kReleaseScript = R"lua(
if ARGV[1] == '' or redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  if redis.call('DEL', KEYS[1]) == 1 then
    redis.call('PUBLISH', ARGV[2], 'released')
    return 1
  end
end
return 0
)lua";

// Returns {pttl_ms (-2: free), token, host, pid, since_ms, last_token}.
inline constexpr const char* kInspectScript = R"lua(
local h = redis.call('HMGET', KEYS[1], 'token', 'host', 'pid', 'since')
return {redis.call('PTTL', KEYS[1]), h[1] or '0', h[2] or '', h[3] or '0', h[4] or '0',
        redis.call('GET', KEYS[2]) or '0'}
)lua";

// Redlock round 2. ARGV: owner, token T. If this owner still holds the lock here,
// raises the counter to at least T and records T as the lock's token; returns 1, else 0.
inline constexpr const char* kRaiseScript = R"lua(
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2])
end
redis.call('HSET', KEYS[1], 'token', ARGV[2])
return 1
)lua";

// Redlock extend. ARGV: owner, ttl_ms. 1 if extended, 0 if another owner holds the
// lock here, -1 if nobody does (expired, released, or the instance restarted).
inline constexpr const char* kRedlockExtendScript = R"lua(
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if owner then return 0 end
return -1
)lua";

// Redlock re-take, on instances that lost a lock still held on a majority. ARGV: owner,
// ttl_ms, token T, host, pid, since_ms. Takes the lock here if it is free and no grant
// here passed T (the counter is not above T), raising the counter to at least T (1);
// else 0.
inline constexpr const char* kRetakeScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[3]) then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[3])
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', ARGV[3], 'host', ARGV[4],
           'pid', ARGV[5], 'since', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
)lua";

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_SCRIPTS_H_
