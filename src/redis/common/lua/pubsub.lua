-- Sent before every script that publishes (the line prelude, release.lua, leave_line.lua): plain
-- pub/sub, which a Redis Cluster forwards to every node. pubsub_sharded.lua is its twin for
-- redis+cluster:// on Redis 7 (SPUBLISH, which reaches only the shard of the channel's slot).
local function publish(channel, message)
  redis.call('PUBLISH', channel, message)
end
-- How many clients are subscribed to `channel` on this server (patterns do not count).
local function subscribers(channel)
  return redis.call('PUBSUB', 'NUMSUB', channel)[2]
end
