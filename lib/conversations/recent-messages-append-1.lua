-- After a send commits: add the message to a complete set and keep only the newest ones, in
-- one step so no reader sees 101. A set being filled (a lease, no marker) is deleted instead:
-- the load in progress may have missed this message and must not store its result. No key: a
-- cold cache stays cold (a set holding only new messages would look complete).
-- KEYS[1] the sorted set; ARGV[1] complete marker; ARGV[2] score; ARGV[3] member; ARGV[4] how
-- many messages to keep; ARGV[5] ttl ms. 1 = added, 0 = not cached.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
  local excess = redis.call('ZCARD', KEYS[1]) - 1 - tonumber(ARGV[4])
  if excess > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[1], 1, excess)
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 1
end
redis.call('DEL', KEYS[1])
return 0
