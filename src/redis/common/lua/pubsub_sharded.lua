-- pubsub.lua for sharded pub/sub (Redis 7): the channels carry the lock's {NAME} tag, so they are
-- in the script's own slot, and a message reaches only the master and replicas of that slot.
local function publish(channel, message)
  redis.call('SPUBLISH', channel, message)
end
local function subscribers(channel)
  return redis.call('PUBSUB', 'SHARDNUMSUB', channel)[2]
end
