-- Applies one committed vote to a poll's result hash (see lib/polls/poll-results.store.ts).
--
-- KEYS[1]  the poll's result hash: one field per option id (its count) and `version`
-- ARGV[1]  the poll's version after the vote committed (polls.version)
-- ARGV[2]  the option the voter left ('' = none: a first vote)
-- ARGV[3]  the option the voter chose ('' = none: a retract)
--
-- The hash holds exactly the counts of PostgreSQL at its `version`. The delta of version N
-- turns the counts of N-1 into those of N, so it is applied only on top of N-1:
--   missing       nothing (the next read rebuilds it from PostgreSQL);
--   version N-1   apply, and record N;
--   version >= N  nothing: a rebuild from a later snapshot already counts this vote;
--   version < N-1 a delta in between never arrived (Redis was unreachable then): the counts
--                 are behind and no delta can repair them, so the hash is dropped.
-- Returns 1 applied, 0 left alone, -1 dropped.
local stored = redis.call('HGET', KEYS[1], 'version')
if not stored then
  return 0
end
local version = tonumber(ARGV[1])
stored = tonumber(stored)
if stored >= version then
  return 0
end
if stored ~= version - 1 then
  redis.call('DEL', KEYS[1])
  return -1
end
if ARGV[2] ~= '' then
  redis.call('HINCRBY', KEYS[1], ARGV[2], -1)
end
if ARGV[3] ~= '' then
  redis.call('HINCRBY', KEYS[1], ARGV[3], 1)
end
redis.call('HSET', KEYS[1], 'version', ARGV[1])
return 1
