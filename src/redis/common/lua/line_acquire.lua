-- The acquire script (after the line prelude). KEYS[1]: the lock's hash, KEYS[2]: its fencing
-- counter. ARGV: owner, ttl_ms, host, pid, since_ms, queue ('1': join or keep the line, '0': one
-- attempt), place_ms, sent_ns (when this request was sent, by the owner's steady clock). Returns
-- {1, token} when acquired; {0, pttl_ms, token, host, pid} when held; a free lock goes to the head
-- of the line, and anyone else gets {0, -3, waiters} ("free, but others are first"); an error
-- DLOCK_OVERFLOW if the counter is at its end (token.lua). Idempotent for one owner id (one
-- acquisition): a retry after a lost reply gets the same grant.

local owner = redis.call('HGET', KEYS[1], 'owner')
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, redis.call('HGET', KEYS[1], 'token')}
end
local function queue_up()
  if ARGV[6] ~= '1' then return end
  redis.call('ZADD', KEYS[3], 'NX', clock(), ARGV[1])
  redis.call('ZADD', KEYS[4], clock() + tonumber(ARGV[7]) * 1000, ARGV[1])
  redis.call('HSET', KEYS[5], ARGV[1], cjson.encode({ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[8]}))
  redis.call('PEXPIRE', KEYS[3], ARGV[7])
  redis.call('PEXPIRE', KEYS[4], ARGV[7])
  redis.call('PEXPIRE', KEYS[5], ARGV[7])
end
if owner then
  queue_up()
  local h = redis.call('HMGET', KEYS[1], 'token', 'host', 'pid')
  return {0, redis.call('PTTL', KEYS[1]), h[1] or '0', h[2] or '', h[3] or '0'}
end
if head and head ~= ARGV[1] then
  queue_up()
  return {0, -3, redis.call('ZCOUNT', KEYS[4], string.format('(%.0f', clock()), '+inf')}
end
if not token_left() then return redis.error_reply(token_overflow) end
if head then leave_line(ARGV[1]) end
return {1, grant(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])}
