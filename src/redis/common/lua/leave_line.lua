-- Takes an owner out of the line (after the line prelude). ARGV: owner, channel. A lock handed to
-- this owner (hand_off) that it never took is freed: the owner gave up. If the lock is free and
-- others still wait, tells the new head (the first whose place is current), on its own channel
-- (channel:OWNER), that it may take it. Returns 1.

leave_line(ARGV[1])
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  publish(ARGV[2], 'released')
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  find_head()
  if head then publish(ARGV[2] .. ':' .. head, 'left') end
end
return 1
