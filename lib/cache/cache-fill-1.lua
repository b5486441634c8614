-- Cache-aside write-back, guarded by the reader's lease (see lib/cache/cache-aside.ts).
--
-- KEYS[1]  the entry's key
-- ARGV[1]  the lease this reader put on the key when it found it missing
-- ARGV[2]  the entry to store; '' = store nothing, only give the lease back
-- ARGV[3]  the entry's TTL in milliseconds (ignored when ARGV[2] is '')
--
-- Writes only if the key still holds this reader's lease. If it does not, the key was
-- invalidated (DEL) or written through (SET) after the lease was taken, i.e. after a
-- PostgreSQL commit that this reader's load may not have seen, or the lease expired: the loaded
-- value may be stale and is dropped. Returns 1 when it wrote (or released), 0 otherwise.
--
-- (Redis 8.4's SET ... IFEQ does the same in one command; Quad runs on Redis 7.)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
