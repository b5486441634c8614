-- Whether each of several users of one presence shard is in a call now (an entry of their
-- in-call set with a deadline after now, on Redis' clock; see presence-call-enter-1.lua).
-- No key count in the file name: the number of keys varies, and each call passes it first.
--
-- KEYS[1..n] the users' in-call sorted sets (all in one shard's slot)
-- Returns n values, 1 (in a call) or 0.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local reply = {}
for i = 1, #KEYS do
  if redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf') > 0 then
    reply[i] = 1
  else
    reply[i] = 0
  end
end
return reply
