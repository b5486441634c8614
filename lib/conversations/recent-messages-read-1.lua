-- The cached latest messages of one conversation, newest first, or nil when the set is not
-- complete (never filled, being filled, or invalidated). KEYS[1] the sorted set; ARGV[1] the
-- marker member of a complete set. Scores are message sequence numbers (≥ 1); markers sit at
-- scores ≤ 0, below every message.
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return false
end
return redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', 1)
