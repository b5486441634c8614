-- Adds or refreshes one member of a group until now + ttl (Redis' clock, so gateway clocks
-- never matter) and keeps the shard's index in step, atomically.
--
-- KEYS[1] index: sorted set, groupId -> the group's latest deadline (one per shard)
-- KEYS[2] group: sorted set, member -> deadline (ms since the epoch)
-- ARGV[1] groupId   ARGV[2] member   ARGV[3] the member's subject prefix   ARGV[4] ttl ms
--   ARGV[5] grace ms: the group key outlives its last deadline by this much, so a sweep can
--   still read which subjects stopped.
-- Returns { subjectStarted, groupStarted }: 1 when the subject had no live member in the group
-- before this call; 1 when the group was not in the index (it becomes active).
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local prefix = ARGV[3]

-- The subject's own expired members go now, silently: the subject is live again, so no sweep
-- must report it as stopped later.
local members = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local subjectWasLive = false
for i = 1, #members, 2 do
  local member = members[i]
  if string.sub(member, 1, #prefix) == prefix then
    if tonumber(members[i + 1]) > now then
      subjectWasLive = true
    else
      redis.call('ZREM', KEYS[2], member)
    end
  end
end

redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[2])
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local latest = tonumber(top[2])
local groupStarted = redis.call('ZADD', KEYS[1], latest, ARGV[1])
redis.call('PEXPIREAT', KEYS[2], latest + tonumber(ARGV[5]))
return { subjectWasLive and 0 or 1, groupStarted }
