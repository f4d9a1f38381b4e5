-- Sent before the shared release script (src/redis/common/lua/release.lua) instead of redis://'s line
-- prelude: redlock:// keeps no line, so there is no head and nothing to hand off.

local head
local function hand_off() return false end
