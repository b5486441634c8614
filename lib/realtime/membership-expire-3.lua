-- Removes the expired members of one group and reports, once, what stopped because of it.
-- Safe to run from every gateway at the same time: the first call removes the members, so a
-- concurrent or later call finds nothing to report.
--
-- KEYS[1] index   KEYS[2] group   KEYS[3] last-seen string of the group
-- ARGV[1] groupId   ARGV[2] ttl ms (last seen = last deadline - ttl, i.e. the last refresh)
-- ARGV[3] last-seen retention ms; 0 = do not record it
-- Returns { groupStopped, lastSeenMs, subject, subject, ... }: the subjects that lost their
-- last member to expiry; groupStopped is 1 when the group left the index.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local indexed = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not indexed then return { 0, 0 } end

local function prefixOf(member)
  local colon = string.find(member, ':', 1, true)
  return string.sub(member, 1, colon + tonumber(string.sub(member, 1, colon - 1)))
end

local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
local live = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  live[prefixOf(member)] = true
end

local reply = { 0, 0 }
local reported = {}
for _, member in ipairs(expired) do
  local prefix = prefixOf(member)
  if not live[prefix] and not reported[prefix] then
    reported[prefix] = true
    local colon = string.find(prefix, ':', 1, true)
    reply[#reply + 1] = string.sub(prefix, colon + 1)
  end
end

local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if top[1] then
  redis.call('ZADD', KEYS[1], top[2], ARGV[1])
else
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[1])
  local lastSeen = tonumber(indexed) - tonumber(ARGV[2])
  reply[1] = 1
  reply[2] = lastSeen
  local retention = tonumber(ARGV[3])
  if retention > 0 then redis.call('SET', KEYS[3], lastSeen, 'PX', retention) end
end
return reply
