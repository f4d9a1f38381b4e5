-- Redlock inspect, on each instance. Returns {pttl_ms (-2: free), token, host, pid, since_ms,
-- last_token}.

local h = redis.call('HMGET', KEYS[1], 'token', 'host', 'pid', 'since')
return {redis.call('PTTL', KEYS[1]), h[1] or '0', h[2] or '', h[3] or '0', h[4] or '0',
        redis.call('GET', KEYS[2]) or '0'}
