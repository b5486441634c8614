-- A user is in the call of one conversation until a deadline on Redis' clock (refreshed by the
-- calls reconciler); "in a call" means any entry with a deadline after now.
--
-- KEYS[1] the user's in-call sorted set: conversationId → deadline ms
-- ARGV[1] conversationId   ARGV[2] ttl ms
-- Returns 1 when the user had no live entry before (they just went "in a call"), else 0.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
-- Every entry was written with the same ttl, so none outlives this deadline.
redis.call('PEXPIRE', KEYS[1], ttl)
if before == 0 then
  return 1
end
return 0
