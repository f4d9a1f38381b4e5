-- Redlock extend. ARGV: owner, ttl_ms. 1 if extended, 0 if another owner holds the lock here, -1
-- if nobody does (expired, released, or the instance restarted).

local owner = redis.call('HGET', KEYS[1], 'owner')
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if owner then return 0 end
return -1
