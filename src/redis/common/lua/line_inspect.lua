-- The inspect script with the line (after token.lua and line.lua; it only reads). ARGV: owner (''
-- for none). Returns {pttl_ms (-2: free), token, host, pid, since_ms, last_token (the counter, as a
-- token of the lock's last epoch)}, then the head of the line ('' if none), the number of waiters
-- whose place is current, and 1 if `owner` holds the lock (else 0).

local h = redis.call('HMGET', KEYS[1], 'token', 'host', 'pid', 'since')
local head = first_in_line(false) or ''
local waiting = redis.call('ZCOUNT', KEYS[4], string.format('(%.0f', clock()), '+inf')
local mine = 0
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then mine = 1 end
return {redis.call('PTTL', KEYS[1]), h[1] or '0', h[2] or '', h[3] or '0', h[4] or '0',
        fencing_token(lock_epoch(), tonumber(redis.call('GET', KEYS[2]) or '0')), head, waiting,
        mine}
