-- Writes ARGV[1] to both keys (which share a hash tag) and answers how many keys it wrote.
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
return 2
