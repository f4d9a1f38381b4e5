-- Sent before every script that changes the line, after token.lua, epoch_check.lua, grant.lua,
-- line.lua and pubsub.lua (or pubsub_sharded.lua): the stale heads dropped, `head`, the first
-- owner in line (nil if none), which `find_head()` sets again, and `hand_off(channel)`. Without a
-- line, it costs one EXISTS.
-- (redlock://, which keeps no line, sends its no_line.lua before the release script instead: no
-- head, and no hand-off.)

local head
local function find_head()
  head = nil
  if redis.call('EXISTS', KEYS[3]) == 1 then head = first_in_line(true) end
end
find_head()
-- Gives the free lock to `head`, as its own acquire would, if the head left its request and a
-- client is subscribed to its channel (channel:OWNER, which only the head's process listens to;
-- patterns do not count), which is told 'granted:TOKEN:SENT'. Otherwise (gone, not subscribed
-- yet, a request this version cannot read, no token left) the head is not given the lock: false.
local function hand_off(channel)
  local want = redis.call('HGET', KEYS[5], head)
  if not want then return false end
  local decoded, w = pcall(cjson.decode, want)
  if not decoded or type(w) ~= 'table' then return false end
  for i = 1, 5 do
    if type(w[i]) ~= 'string' then return false end
  end
  if not tonumber(w[1]) or tonumber(w[1]) < 1 then return false end
  if not token_left() then return false end
  channel = channel .. ':' .. head
  if subscribers(channel) == 0 then return false end
  local token = grant(head, w[1], w[2], w[3], w[4])
  publish(channel, 'granted:' .. token .. ':' .. w[5])
  leave_line(head)
  return true
end
