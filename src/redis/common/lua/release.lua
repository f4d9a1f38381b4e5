-- The release script, shared by redis:// (after the line prelude) and redlock:// (after its
-- no_line.lua, which keeps no line). ARGV: owner ('' to release whoever holds it), channel.
-- Returns 1 if released, else 0. The lock goes to the head of the line, if any, in the same step
-- (hand_off), so that the next holder need not ask; a head that cannot be handed it is told on
-- its own channel (channel:OWNER) instead, so that a release wakes one waiter, not all of them.
-- Waiters outside the line (`dlock inspect --watch`) listen on the channel itself, which is told
-- of every release.

if ARGV[1] == '' or redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  if redis.call('DEL', KEYS[1]) == 1 then
    if head and not hand_off(ARGV[2]) then
      publish(ARGV[2] .. ':' .. head, 'released')
    end
    publish(ARGV[2], 'released')
    return 1
  end
end
return 0
