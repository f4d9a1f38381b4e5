-- Redlock round 2. ARGV: owner, token T. If this owner still holds the lock here, raises the
-- counter to at least T and records T as the lock's token; returns 1, else 0.

if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2])
end
redis.call('HSET', KEYS[1], 'token', ARGV[2])
return 1
