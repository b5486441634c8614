--[[
  Exact sliding-window log check for one subject.

  A sorted set holds one member per admitted unit, scored by its Redis admission time in
  microseconds. A request of `cost` units is admitted only if the units admitted in the last
  `window` microseconds plus `cost` fit in `limit`; otherwise nothing is written, so a cost
  larger than what is left never consumes anything.

  KEYS[1]  the subject's sorted set
  ARGV[1]  limit: units per window
  ARGV[2]  window in microseconds
  ARGV[3]  cost: units this request spends (1 <= cost <= limit, checked by the caller)
  ARGV[4]  a token unique to this check, so that members added by different checks in the same
           microsecond stay distinct (a sorted set would merge equal members)

  Returns { admitted (1 or 0), remaining units, microseconds until this request would be
            admitted (0 when admitted), microseconds until one more unit is restored
            (0 when the budget is full) }

  Time comes from Redis (TIME), never from the caller, so instances whose clocks disagree
  still share one timeline. Redis 7 replicates a script's effects rather than the script, which
  is what makes reading TIME before a write legal.
]]
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local token = ARGV[4]

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

-- Numbers handed to redis.call are printed with 14 significant digits (1.7e+15 loses the last
-- two digits of a microsecond timestamp), so every timestamp goes through %d.
local function integer(n)
  return string.format('%d', n)
end

-- The window is (now - window, now]: a unit admitted exactly `window` ago has left it.
redis.call('ZREMRANGEBYSCORE', key, '-inf', integer(now - window))
local used = redis.call('ZCARD', key)

-- Microseconds until the unit at 0-based position `rank` (oldest first) leaves the window.
local function until_leaves(rank)
  local entry = redis.call('ZRANGE', key, rank, rank, 'WITHSCORES')
  return tonumber(entry[2]) + window - now
end

if used + cost > limit then
  -- Admitting `cost` units needs the oldest (used + cost - limit) units gone; cost <= limit
  -- guarantees that many exist.
  return { 0, limit - used, until_leaves(used + cost - limit - 1), until_leaves(0) }
end

-- ZADD in slices: Lua's unpack has a stack limit of a few thousand values.
local score = integer(now)
local added = 0
while added < cost do
  local members = {}
  local slice = math.min(cost - added, 500)
  for i = 1, slice do
    members[#members + 1] = score
    members[#members + 1] = token .. ':' .. (added + i)
  end
  redis.call('ZADD', key, unpack(members))
  added = added + slice
end
-- The newest member leaves the window after `window`; so does the key.
redis.call('PEXPIRE', key, math.ceil(window / 1000))
return { 1, limit - used - cost, 0, until_leaves(0) }
