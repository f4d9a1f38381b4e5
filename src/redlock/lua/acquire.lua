-- Redlock round 1, on each instance (after grant.lua). KEYS[1]: the lock's hash, KEYS[2]: its
-- fencing counter. ARGV: owner, ttl_ms, host, pid, since_ms. Returns {1, token} when acquired;
-- {0, pttl_ms, token, host, pid} when held. Idempotent for one owner id (one acquisition): a
-- retry after a lost reply gets the same grant.

if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, redis.call('HGET', KEYS[1], 'token')}
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local h = redis.call('HMGET', KEYS[1], 'token', 'host', 'pid')
  return {0, redis.call('PTTL', KEYS[1]), h[1] or '0', h[2] or '', h[3] or '0'}
end
return {1, grant(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])}
