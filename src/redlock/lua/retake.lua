-- Redlock re-take, on instances that lost a lock still held on a majority. ARGV: owner, ttl_ms,
-- token T, host, pid, since_ms. Takes the lock here if it is free and no grant here passed T (the
-- counter is not above T), raising the counter to at least T (1); else 0.

if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[3]) then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[3])
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', ARGV[3], 'host', ARGV[4],
           'pid', ARGV[5], 'since', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
