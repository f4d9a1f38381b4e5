-- The fencing tokens of redis:// and redis+sentinel:// (sent first, before epoch_check.lua and
-- grant.lua; redlock:// sends its own counter.lua instead). A token is the failover epoch E of the
-- master that grants it (Sentinel's config-epoch; 0 for redis://) in the high 24 bits and the
-- lock's counter C (KEYS[2]) in the low 40: E * 2^40 + C, which is C itself when E is 0.
-- KEYS[6] holds E of the lock's last grant (absent: 0); ARGV[#ARGV] is the client's E.
-- Tokens are returned and stored as decimal strings: they go beyond the 2^53 that a Lua number
-- holds exactly.

local function fencing_token(epoch, counter)
  if epoch == 0 then
    return string.format('%.0f', counter)
  end
  -- 2^40 = 109951 * 10^7 + 1627776: the sum in two base-10^7 digits, each product below 2^53.
  local low = epoch * 1627776 + counter % 10000000
  local high = epoch * 109951 + math.floor(counter / 10000000) + math.floor(low / 10000000)
  return string.format('%.0f%07.0f', high, low % 10000000)
end
local function lock_epoch()
  return tonumber(redis.call('GET', KEYS[6]) or '0')
end
-- Whether the lock's counter may grow: under an epoch above 0 it holds 40 bits, and one at
-- 2^40 - 1 is never wrapped (tokens would go back). Checked before a grant writes anything.
local token_overflow = 'DLOCK_OVERFLOW the fencing counter of this lock has reached 2^40 - 1, ' ..
                       'the most a token holds beside its failover epoch'
local function token_left()
  return tonumber(ARGV[#ARGV]) == 0 or
             tonumber(redis.call('GET', KEYS[2]) or '0') < 1099511627775
end
-- The next token of the lock (epoch_check.lua and token_left() have checked that there is one),
-- raising KEYS[6].
local function next_token()
  local epoch = tonumber(ARGV[#ARGV])
  if epoch > lock_epoch() then
    redis.call('SET', KEYS[6], string.format('%.0f', epoch))
  end
  return fencing_token(epoch, redis.call('INCR', KEYS[2]))
end
