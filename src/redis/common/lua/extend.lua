-- redis://'s extend. KEYS[1]: the lock's hash. ARGV: owner, ttl_ms. Returns the token if this
-- owner holds the lock, else nil.

if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return redis.call('HGET', KEYS[1], 'token')
end
return false
