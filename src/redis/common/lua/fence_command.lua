-- The fence guard's write when it is one command (sent before fence.lua): ARGV is the command
-- and its arguments, run with redis.pcall, so that an error reply (a wrong type, an unknown
-- command) is returned to fence.lua, which then leaves the token as it was.

local function dlock_write(KEYS, ARGV)
  return redis.pcall(unpack(ARGV))
end
