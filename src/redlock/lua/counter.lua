-- redlock://'s next_token() for grant.lua (sent before it): the lock's counter, KEYS[2], plain.
-- Each instance keeps its own; the acquire reconciles them (round 2).

local function next_token()
  return redis.call('INCR', KEYS[2])
end
