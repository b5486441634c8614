-- Whether each of several groups of one shard is active, and when it last was.
-- No key count in the file name: the number of keys varies, and each call passes it first.
--
-- KEYS[1] index   KEYS[2..n+1] the groups' last-seen strings
-- ARGV[1] ttl ms   ARGV[2..n+1] the groupIds, in the order of KEYS[2..]
-- Returns n pairs { active, lastSeenMs }: active 1 (lastSeenMs 0) while the group's latest
-- deadline is after now; otherwise 0 and the last refresh of an expired group not swept yet,
-- the recorded last-seen time, or -1 when nothing is known.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(ARGV[1])
local reply = {}
for i = 2, #KEYS do
  local deadline = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if deadline and tonumber(deadline) > now then
    reply[#reply + 1] = 1
    reply[#reply + 1] = 0
  elseif deadline then
    reply[#reply + 1] = 0
    reply[#reply + 1] = tonumber(deadline) - ttl
  else
    reply[#reply + 1] = 0
    reply[#reply + 1] = tonumber(redis.call('GET', KEYS[i]) or -1)
  end
end
return reply
