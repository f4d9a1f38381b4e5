-- The fence guard's check and write (dlock/fence/redis.h), in one script, so atomic. KEYS[1]: the
-- resource's fence key, PREFIX{R}:fence, holding H, the highest token seen (decimal); KEYS[2..]:
-- the write's keys. ARGV[1]: the token T (decimal, no leading zeros); ARGV[2..]: the write's
-- arguments. Sent after a `local function dlock_write(KEYS, ARGV)` (fence_command.lua, or the
-- caller's EVAL body wrapped in one by src/redis/fence.cc), which it calls with the write's own
-- KEYS and ARGV once T >= H. H is raised to T only after the write succeeded: a write that
-- returns an error reply (a command's, through redis.pcall) or raises one leaves H unchanged.
-- Replies: the write's reply; an error `DLOCK_STALE H` if T < H; `DLOCK_BADFENCE ...` if KEYS[1]
-- holds something other than a token. Tokens are unsigned 64-bit, beyond the 2^53 a Lua number
-- holds exactly: they are compared as decimal strings, length first, then byte by byte (not with
-- `<`, which follows the server's locale).

local function at_least(a, b)
  if #a ~= #b then
    return #a > #b
  end
  for i = 1, #a do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x > y
    end
  end
  return true
end

local token = ARGV[1]
local highest = redis.call('GET', KEYS[1])
if highest then
  if not string.match(highest, '^[1-9]%d*$') then
    return redis.error_reply('DLOCK_BADFENCE not a token')
  end
  if not at_least(token, highest) then
    return redis.error_reply('DLOCK_STALE ' .. highest)
  end
end

local keys, argv = {}, {}
for i = 2, #KEYS do
  keys[i - 1] = KEYS[i]
end
for i = 2, #ARGV do
  argv[i - 1] = ARGV[i]
end
local reply = dlock_write(keys, argv)
if type(reply) == 'table' and reply.err then
  return reply
end
if highest ~= token then
  redis.call('SET', KEYS[1], token)
end
return reply
