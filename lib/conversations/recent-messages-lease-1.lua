-- A reader that missed claims the empty key before loading from PostgreSQL, so that a write
-- committed during its load can tell (see recent-messages-append-1.lua). KEYS[1] the sorted set;
-- ARGV[1] the lease member; ARGV[2] its lifetime in ms. 1 = claimed, 0 = the key exists.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('ZADD', KEYS[1], -1, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
