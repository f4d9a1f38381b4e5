-- grant(owner, ttl_ms, host, pid, since_ms): gives the lock to `owner`, with the next fencing
-- token, for ttl_ms; returns the token. Sent after the file that defines next_token() (token.lua
-- for redis://, counter.lua for redlock://) and before the scripts that grant the lock (redis://'s
-- line scripts, after which hand_off uses it too, and redlock://'s acquire).

local function grant(owner, ttl, host, pid, since)
  local token = next_token()
  redis.call('HSET', KEYS[1], 'owner', owner, 'token', token, 'host', host, 'pid', pid,
             'since', since)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return token
end
