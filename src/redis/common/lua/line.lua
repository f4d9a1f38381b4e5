-- The redis:// backend's wait line (FIFO). KEYS[3]: a sorted set of the waiting owners, scored by
-- when they joined (server time, µs); KEYS[4]: a sorted set of the same owners scored by their
-- place's deadline (server time, µs); KEYS[5]: a hash of each owner's last request, for a
-- hand-off (JSON: ttl_ms, host, pid, since_ms, sent: when the owner sent that request, by its own
-- steady clock, in ns). A waiter renews its place by asking again; one whose deadline passed (it
-- crashed) is dropped when it reaches the head. The keys expire with the last place, and vanish
-- when the line empties.
--
-- The line's functions, sent before every script that uses the line: `clock()` (the server's
-- time, read once, only when needed), `leave_line(owner)`, and `first_in_line(drop)`, the first
-- owner whose place is current (nil if none); the owners before it, whose places ran out, leave
-- the line if `drop`, and are only skipped otherwise (a script that only reads the line).

local now
local function clock()
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  end
  return now
end
local function leave_line(owner)
  redis.call('ZREM', KEYS[3], owner)
  redis.call('ZREM', KEYS[4], owner)
  redis.call('HDEL', KEYS[5], owner)
end
local function first_in_line(drop)
  local i = 0
  while true do
    local owner = redis.call('ZRANGE', KEYS[3], i, i)[1]
    if not owner then return nil end
    if tonumber(redis.call('ZSCORE', KEYS[4], owner) or '0') > clock() then return owner end
    if drop then
      leave_line(owner)
    else
      i = i + 1
    end
  end
end
