-- The groups of one shard whose latest deadline has passed (Redis' clock): the candidates a
-- sweep must expire. Read-only; membership-expire-3.lua decides, atomically per group.
--
-- KEYS[1] index   ARGV[1] at most this many groups
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
