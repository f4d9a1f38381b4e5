-- Sent after token.lua, before anything that writes, by every redis:// script that may grant the
-- lock (acquire, release and leaving the line, which hand it over): refuses, changing nothing,
-- a client whose epoch is below the lock's last grant's (DLOCK_EPOCH: it trusts a master that
-- the sentinels have replaced, or it is a redis:// client on a lock of redis+sentinel://), and
-- an epoch of 2^24 or more (DLOCK_OVERFLOW). (A counter at its end is refused where a grant
-- would be made: token_left() in token.lua.)

do
  local epoch = tonumber(ARGV[#ARGV])
  if not epoch or epoch < 0 or epoch >= 16777216 then
    return redis.error_reply('DLOCK_OVERFLOW failover epoch ' .. tostring(ARGV[#ARGV]) ..
                             ' does not fit in the 24 bits of a fencing token')
  end
  local seen = lock_epoch()
  if epoch < seen then
    return redis.error_reply(string.format(
        'DLOCK_EPOCH the lock was last granted under failover epoch %.0f, this client knows ' ..
        '%.0f (a replaced master, or redis:// on a lock of redis+sentinel://)', seen, epoch))
  end
end
