-- Writes back a poll's counts rebuilt from PostgreSQL (see lib/polls/poll-results.store.ts).
--
-- KEYS[1]  the poll's result hash
-- ARGV[1]  the poll's version in the snapshot the counts were read from
-- ARGV[2]  the hash's TTL in milliseconds
-- ARGV[3…] option id, count, option id, count, … (every option, zeros included)
--
-- A rebuild is slow next to a vote: by the time it arrives, votes committed after its snapshot
-- may already be in the hash. So it replaces the hash only when the hash is missing or older
-- than the snapshot; an older rebuild never overwrites a newer state. Returns 1 written, 0 not.
local stored = redis.call('HGET', KEYS[1], 'version')
if stored and tonumber(stored) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'version', ARGV[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
