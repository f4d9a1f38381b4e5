// scripts.h: the Lua scripts of the Redis backend. KEYS[1] is the lock's hash,
// KEYS[2] its fencing counter; both share the hash tag {NAME}.
#ifndef DLOCK_SRC_REDIS_SCRIPTS_H_
#define DLOCK_SRC_REDIS_SCRIPTS_H_

namespace dlock::redis {

// ARGV: owner, ttl_ms, host, pid, since_ms.
// Returns {1, token} when acquired; {0, pttl_ms, token, host, pid} when held. Idempotent
// for one owner id (one acquisition): a retry after a lost reply gets the same grant.
inline constexpr const char* kAcquireScript = R"lua(
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, redis.call('HGET', KEYS[1], 'token')}
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local h = redis.call('HMGET', KEYS[1], 'token', 'host', 'pid')
  return {0, redis.call('PTTL', KEYS[1]), h[1] or '0', h[2] or '', h[3] or '0'}
end
local token = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', token, 'host', ARGV[3],
           'pid', ARGV[4], 'since', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, token}
)lua";

// ARGV: owner, ttl_ms. Returns the token if this owner holds the lock, else nil.
inline constexpr const char* kExtendScript = R"lua(
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return redis.call('HGET', KEYS[1], 'token')
end
return false
)lua";

// The redis:// backend's wait line (FIFO). KEYS[3]: a sorted set of the waiting owners,
// scored by when they joined (server time, µs); KEYS[4]: a sorted set of the same owners
// scored by their place's deadline (server time, µs); KEYS[5]: a hash of each owner's last
// request, for a hand-off (JSON: ttl_ms, host, pid, since_ms, sent: when the owner sent that
// request, by its own steady clock, in ns). A waiter renews its place by asking again; one whose
// deadline passed (it crashed) is dropped when it reaches the head. The keys expire with the last
// place, and vanish when the line empties. The scripts below that use the line start with this
// prelude: `clock()` (the server's time, read once, only when needed), `leave_line(owner)`,
// `grant(owner, ttl_ms, host, pid, since_ms)` (the lock to `owner`; returns its token), the stale
// heads dropped, `head`, the first owner in line (nil if none), which `find_head()` sets again,
// and `hand_off(channel)`. Without a line, it costs one EXISTS.
inline constexpr const char* kLinePrelude = R"lua(
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
local function grant(owner, ttl, host, pid, since)
  local token = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], 'owner', owner, 'token', token, 'host', host, 'pid', pid,
             'since', since)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return token
end
local head
local function find_head()
  head = nil
  if redis.call('EXISTS', KEYS[3]) == 1 then
    while true do
      head = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
      if not head then break end
      if tonumber(redis.call('ZSCORE', KEYS[4], head) or '0') > clock() then break end
      leave_line(head)
    end
  end
end
find_head()
-- Gives the free lock to `head`, as its own acquire would, if the head left its request and a
-- client is subscribed to its channel (channel:OWNER, which only the head's process listens to;
-- patterns do not count), which is told 'granted:TOKEN:SENT'. Otherwise (gone, not subscribed
-- yet, a request this version cannot read) the head is not given the lock: false.
local function hand_off(channel)
  local want = redis.call('HGET', KEYS[5], head)
  if not want then return false end
  local decoded, w = pcall(cjson.decode, want)
  if not decoded or type(w) ~= 'table' then return false end
  for i = 1, 5 do
    if type(w[i]) ~= 'string' then return false end
  end
  if not tonumber(w[1]) or tonumber(w[1]) < 1 then return false end
  channel = channel .. ':' .. head
  if redis.call('PUBSUB', 'NUMSUB', channel)[2] == 0 then return false end
  local token = grant(head, w[1], w[2], w[3], w[4])
  redis.call('PUBLISH', channel, 'granted:' .. string.format('%.0f', token) .. ':' .. w[5])
  leave_line(head)
  return true
end
)lua";

// kAcquireScript with the line (after kLinePrelude). ARGV: owner, ttl_ms, host, pid, since_ms,
// queue ('1': join or keep the line, '0': one attempt), place_ms, sent_ns (when this request was
// sent, by the owner's steady clock). A free lock goes to the head of the line; anyone else gets
// {0, -3, waiters} ("free, but others are first").
inline constexpr const char* kLineAcquireScript = R"lua(
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
if head then leave_line(ARGV[1]) end
return {1, grant(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])}
)lua";

// Takes an owner out of the line (after kLinePrelude). ARGV: owner, channel. A lock handed to
// this owner (hand_off) that it never took is freed: the owner gave up. If the lock is free and
// others still wait, tells the new head (the first whose place is current), on its own channel
// (channel:OWNER), that it may take it.
inline constexpr const char* kLeaveLineScript = R"lua(
leave_line(ARGV[1])
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], 'released')
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  find_head()
  if head then redis.call('PUBLISH', ARGV[2] .. ':' .. head, 'left') end
end
return 1
)lua";

// kInspectScript with the line. ARGV: owner ('' for none). The same six fields, then the head
// of the line ('' if none), the number of waiters whose place is current, and 1 if `owner`
// holds the lock (else 0).
inline constexpr const char* kLineInspectScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local h = redis.call('HMGET', KEYS[1], 'token', 'host', 'pid', 'since')
local head, i = '', 0
while true do
  local owner = redis.call('ZRANGE', KEYS[3], i, i)[1]
  if not owner then break end
  if tonumber(redis.call('ZSCORE', KEYS[4], owner) or '0') > now then
    head = owner
    break
  end
  i = i + 1
end
local waiting = redis.call('ZCOUNT', KEYS[4], string.format('(%.0f', now), '+inf')
local mine = 0
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then mine = 1 end
return {redis.call('PTTL', KEYS[1]), h[1] or '0', h[2] or '', h[3] or '0', h[4] or '0',
        redis.call('GET', KEYS[2]) or '0', head, waiting, mine}
)lua";

// ARGV: owner ('' to release whoever holds it), channel. Returns 1 if released. Runs after
// kLinePrelude (redis://), or after kNoLine (redlock://, which keeps no line). The lock goes to
// the head of the line, if any, in the same step (hand_off), so that the next holder need not
// ask; a head that cannot be handed it is told on its own channel (channel:OWNER) instead, so
// that a release wakes one waiter, not all of them. Waiters outside the line (`dlock inspect
// --watch`) listen on the channel itself, which is told of every release.
inline constexpr const char* kReleaseScript = R"lua(
if ARGV[1] == '' or redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  if redis.call('DEL', KEYS[1]) == 1 then
    if head and not hand_off(ARGV[2]) then
      redis.call('PUBLISH', ARGV[2] .. ':' .. head, 'released')
    end
    redis.call('PUBLISH', ARGV[2], 'released')
    return 1
  end
end
return 0
)lua";
inline constexpr const char* kNoLine = "local head\nlocal function hand_off() return false end\n";

// Returns {pttl_ms (-2: free), token, host, pid, since_ms, last_token}.
inline constexpr const char* kInspectScript = R"lua(
local h = redis.call('HMGET', KEYS[1], 'token', 'host', 'pid', 'since')
return {redis.call('PTTL', KEYS[1]), h[1] or '0', h[2] or '', h[3] or '0', h[4] or '0',
        redis.call('GET', KEYS[2]) or '0'}
)lua";

// Redlock round 2. ARGV: owner, token T. If this owner still holds the lock here,
// raises the counter to at least T and records T as the lock's token; returns 1, else 0.
inline constexpr const char* kRaiseScript = R"lua(
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2])
end
redis.call('HSET', KEYS[1], 'token', ARGV[2])
return 1
)lua";

// Redlock extend. ARGV: owner, ttl_ms. 1 if extended, 0 if another owner holds the
// lock here, -1 if nobody does (expired, released, or the instance restarted).
inline constexpr const char* kRedlockExtendScript = R"lua(
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if owner then return 0 end
return -1
)lua";

// Redlock re-take, on instances that lost a lock still held on a majority. ARGV: owner,
// ttl_ms, token T, host, pid, since_ms. Takes the lock here if it is free and no grant
// here passed T (the counter is not above T), raising the counter to at least T (1);
// else 0.
inline constexpr const char* kRetakeScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[3]) then return 0 end
if tonumber(redis.call('GET', KEYS[2]) or '0') < tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[3])
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', ARGV[3], 'host', ARGV[4],
           'pid', ARGV[5], 'since', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
)lua";

}  // namespace dlock::redis

#endif  // DLOCK_SRC_REDIS_SCRIPTS_H_
