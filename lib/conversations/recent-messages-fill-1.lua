-- Stores what a reader loaded, only if its lease is still there: an append or invalidation
-- during the load deleted the key, and the load (which may lack that change) is then dropped.
-- KEYS[1] the sorted set; ARGV[1] lease; ARGV[2] complete marker; ARGV[3] ttl ms; ARGV[4] how
-- many messages to keep; ARGV[5..] score, member pairs. 1 = stored, 0 = lease lost.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], 0, ARGV[2])
for i = 5, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1])
end
local excess = redis.call('ZCARD', KEYS[1]) - 1 - tonumber(ARGV[4])
if excess > 0 then
  -- Rank 0 is the marker (score 0); the oldest messages follow it.
  redis.call('ZREMRANGEBYRANK', KEYS[1], 1, excess)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
