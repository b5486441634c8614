-- Removes one member (and its subject's expired members) from a group, atomically with the
-- shard's index.
--
-- KEYS[1] index   KEYS[2] group   KEYS[3] last-seen string of the group
-- ARGV[1] groupId   ARGV[2] member   ARGV[3] the member's subject prefix
-- ARGV[4] grace ms (see membership-touch-2.lua)
-- ARGV[5] last-seen retention ms; 0 = do not record when the group was last active
-- Returns { subjectStopped, groupStopped, now }: subjectStopped is 1 when the subject had a
-- member and has no live one left; groupStopped is 1 when the group left the index (it was
-- active and is not any more). Each is reported once: a repeated call finds nothing to stop.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local prefix = ARGV[3]

local members = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
local subjectHadMembers = false
local subjectStillLive = false
for i = 1, #members, 2 do
  local member = members[i]
  if string.sub(member, 1, #prefix) == prefix then
    subjectHadMembers = true
    if member == ARGV[2] or tonumber(members[i + 1]) <= now then
      redis.call('ZREM', KEYS[2], member)
    else
      subjectStillLive = true
    end
  end
end

local groupStopped = 0
local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if top[1] then
  redis.call('ZADD', KEYS[1], top[2], ARGV[1])
  redis.call('PEXPIREAT', KEYS[2], tonumber(top[2]) + tonumber(ARGV[4]))
else
  redis.call('DEL', KEYS[2])
  groupStopped = redis.call('ZREM', KEYS[1], ARGV[1])
  local retention = tonumber(ARGV[5])
  if groupStopped == 1 and retention > 0 then
    redis.call('SET', KEYS[3], now, 'PX', retention)
  end
end
local subjectStopped = 0
if subjectHadMembers and not subjectStillLive then subjectStopped = 1 end
return { subjectStopped, groupStopped, now }
