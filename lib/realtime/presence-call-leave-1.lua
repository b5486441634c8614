-- The user left the call of one conversation (see presence-call-enter-1.lua).
--
-- KEYS[1] the user's in-call sorted set   ARGV[1] conversationId
-- Returns 1 when this leave took the user out of their last call (they were in it and are in
-- none now), else 0.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('ZCARD', KEYS[1]) > 0 then
  return 0
end
return removed
