--[[
  GCRA (generic cell rate algorithm) check for one subject, O(1) memory.

  One key holds the subject's theoretical arrival time (TAT): the Redis time, in microseconds,
  at which its budget would be full again. Spending `cost` units moves TAT forward by
  cost * interval (interval = window / limit); the request is admitted only if the new TAT is
  at most `burst` intervals ahead of now. Nothing is written when a request is rejected, so a
  cost larger than what is left never consumes anything.

  KEYS[1]  the subject's key (a string; absent means a full budget)
  ARGV[1]  increment: cost * interval, in microseconds (may be fractional)
  ARGV[2]  capacity: burst * interval, in microseconds: how far ahead TAT may run

  Returns { admitted (1 or 0), microseconds TAT is ahead of now after this decision }. That
  one number is the whole state; the caller derives remaining units, retry-after and the time
  to the next unit from it and the policy (rate-limiter.ts, gcraOutcome), which keeps this
  script to the three commands it needs: it is the hot path of every API request.

  Time comes from Redis (TIME), never from the caller, so instances whose clocks disagree
  still share one timeline. Redis 7 replicates a script's effects rather than the script, which
  is what makes reading TIME before a write legal.
]]
local clock = redis.call('TIME')
local now = clock[1] * 1000000 + clock[2]

local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end

local new_tat = tat + ARGV[1]
-- Less than a microsecond of excess is the rounding of TAT below, not a real excess.
if new_tat - ARGV[2] - now >= 1 then
  return { 0, tat - now }
end

-- Whole microseconds, rounded up (never in the client's favour). redis.call prints numbers
-- with 17 significant digits, so a 16-digit microsecond timestamp is stored exactly. The key
-- lives exactly until the budget is full again, after which it carries no information.
new_tat = math.ceil(new_tat)
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return { 1, new_tat - now }
