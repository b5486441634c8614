/**
 * The numbers that matter, in one place. Every timeout, interval and limit that shapes how Quad
 * behaves under load or failure is declared here with the reason for its value; code imports
 * it instead of writing literals. Later capabilities (cache TTLs, rate limits) add their tables
 * beside these.
 */
export const policy = {
  redis: {
    /** A TCP connect to Redis on the same host or LAN takes well under a millisecond; 2 s only
     *  covers a restarting container. */
    connectTimeoutMs: 2_000,
    /** Upper bound of any single non-blocking Redis command. Redis answers in microseconds; a
     *  command that takes longer than this means Redis is overloaded or gone, and the caller is
     *  better served by falling back to PostgreSQL at once than by waiting longer. */
    commandTimeoutMs: 300,
    /** Retry a failed command once on a fresh connection, then give up and fall back. */
    maxRetriesPerRequest: 1,
    /** Reconnect with exponential backoff and full jitter: base * 2^attempt, capped, so a
     *  fleet of services does not reconnect in lock-step after a Redis restart. */
    reconnectBaseDelayMs: 100,
    reconnectMaxDelayMs: 10_000,
    /** Redis Cluster: how often a client re-reads the slot map on its own. A failover is also
     *  learned from MOVED answers, but a slot nobody writes to would keep its dead master until
     *  this refresh; 2 s keeps that inside the breaker's cooldown. */
    clusterSlotsRefreshIntervalMs: 2_000,
    /** Redis Cluster: wait before resending a command that met a failover (CLUSTERDOWN,
     *  TRYAGAIN, a closed node). A replica's promotion takes about cluster-node-timeout plus a
     *  second; retrying sooner only adds load. */
    clusterRetryDelayMs: 200,
    /** Redis Cluster, request-path (`command`) clients: how often one command may be resent
     *  (after MOVED, ASK, CLUSTERDOWN or a closed node) before it fails. ioredis' default of 16
     *  resends at clusterRetryDelayMs turns a failover into seconds per request; 2 covers the
     *  one MOVED that follows a promotion, and a request then falls back as it would on a
     *  dead single Redis. Queue and subscriber connections keep the default: they wait. */
    clusterCommandRedirections: 2,
  },
  /** The circuit breaker in front of each request-path Redis client (lib/redis/redis-breaker.ts).
   *  Its job is to make a dead or hung Redis cost a request nothing: while open, calls fail at
   *  once and callers fall back to PostgreSQL. */
  redisBreaker: {
    /** Open after this many failed calls in a row. A healthy Redis on a LAN does not fail five
     *  calls in a row; a hung one makes each of them wait commandTimeoutMs (300 ms), so five
     *  bounds what an outage costs before the breaker opens. */
    consecutiveFailures: 5,
    /** ...or when at least this share of the last `windowCalls` calls failed: a Redis that
     *  times out on every other call never fails five in a row but still makes half the
     *  requests wait. 50 % over 20 calls: a couple of stray timeouts never trip it. */
    failureRatio: 0.5,
    windowCalls: 20,
    /** Open → half-open after this long; then one real call is let through as a probe. While
     *  Redis hangs, that is one request per process every 2 s paying at most commandTimeoutMs;
     *  when Redis is back, it is used again within 2 s (plus the reconnect backoff). */
    cooldownMs: 2_000,
  },
  postgres: {
    connectTimeoutMs: 3_000,
    /** A statement that runs longer than this is a bug or a missing index, not a workload. */
    statementTimeoutMs: 10_000,
    /** Per process. 2 cores serve ~10 concurrent queries well; PostgreSQL's default
     *  max_connections (100) leaves room for several instances of each service. */
    poolMax: 10,
    idleTimeoutMs: 30_000,
  },
  readiness: {
    /** Each dependency check in /readyz must answer within this, so a hung dependency cannot
     *  hang the probe (compose and orchestrators time probes out at a few seconds). */
    checkTimeoutMs: 1_000,
  },
  shutdown: {
    /** After SIGTERM: time to drain in-flight requests, sockets and jobs before closing
     *  clients. Below compose's default stop_grace_period (10 s) so we exit on our own terms. */
    drainTimeoutMs: 8_000,
  },
  accounts: {
    passwords: {
      /** argon2id with OWASP's first recommended configuration (Password Storage Cheat Sheet:
       *  m=19 MiB, t=2, p=1). The alternatives it lists trade memory for passes at equal
       *  cost; the smallest memory wins here because logins arrive in classroom bursts on a
       *  2-core host: ~30 ms of one core and 19 MiB per hash, so 30 concurrent logins need
       *  under 600 MiB. Each hash records its own parameters, so raising them later only
       *  affects new hashes (and rehash-on-login can follow). */
      argon2id: { memoryCostKiB: 19_456, timeCost: 2, parallelism: 1 },
      /** NIST SP 800-63B asks for at least 8 characters and recommends 15 for passwords that
       *  are the only factor; 12 is the compromise for pupils who type it on shared machines,
       *  together with the weak-password checks in lib/accounts/password-strength.ts. */
      minLength: 12,
      /** NIST: accept at least 64. The bound keeps request bodies small; argon2 pre-hashes its
       *  input, so length does not change the cost. */
      maxLength: 256,
    },
    sessions: {
      /** Default lifetime of a session (SESSION_TTL_HOURS overrides it): two weeks, so nobody
       *  is logged out in the middle of a school week, and a session forgotten on a shared
       *  computer dies within a fortnight. Revocation is immediate regardless. */
      defaultTtlHours: 14 * 24,
      /** Random bytes in a session token or API key: 256 bits, beyond guessing. */
      tokenBytes: 32,
      /** last_seen_at / last_used_at are refreshed when a credential is loaded from
       *  PostgreSQL (a cache miss), and then only if older than this: a warm request never
       *  writes, and while Redis is down PostgreSQL gets one write per minute per session,
       *  not one per request. */
      lastSeenResolutionMs: 60_000,
      /** User-Agent strings are stored for the "your sessions" list; longer ones are cut. */
      maxUserAgentLength: 256,
    },
  },
  http: {
    /** JSON bodies are small (the largest is a message: text plus metadata); a bound stops a
     *  client from making the api parse megabytes. */
    maxJsonBodyBytes: 64 * 1024,
    /** Retry-After on a 503 while PostgreSQL is unreachable: long enough not to hammer a
     *  restarting database, short enough to recover quickly from a failover. */
    unavailableRetryAfterSeconds: 5,
  },
  /** Conversations and messages. */
  messaging: {
    /** Characters in a message body. 4 000 is a long paragraph or a pasted assignment brief;
     *  longer texts belong in a file. Also enforced by the messages_body_length constraint. */
    maxBodyChars: 4_000,
    /** Characters of a client idempotency key (a UUID is 36; room for other schemes). */
    maxIdempotencyKeyChars: 128,
    /** Characters of a group title. */
    maxTitleChars: 120,
    /** Members named when a group is created (more are added one by one). A class and its
     *  teachers fit; a school-wide announcement list is a different feature. */
    maxInitialMembers: 200,
    /** Messages per history page: default and upper bound. The bound is the size of the recent
     *  messages cache, so the first page can always be served from it. */
    defaultPageSize: 50,
    maxPageSize: 100,
    /** Messages of each conversation kept in the Redis sorted set: a full first page. */
    recentMessagesKept: 100,
    /** Characters of the last message shown in a conversation list. */
    previewChars: 140,
  },
  /** The socket gateway (services/socket). Presence and typing TTLs are in `presence`. */
  realtime: {
    /** Largest frame a client may send. A message body is at most 4 000 characters (16 KB in
     *  UTF-8 at worst) and a presence query 500 ids (~20 KB); 64 KB leaves room for both and
     *  keeps a hostile client from making the server buffer megabytes (Socket.IO's default is
     *  1 MB). A larger frame closes the connection. */
    maxFrameBytes: 64 * 1024,
    /** Any events per connection (in process: a connection lives on one instance). Opening a
     *  client joins its conversations and catches up in a few dozen events; 20/s sustained
     *  with a burst of 100 is far above a person and stops a script. Per-user budgets that
     *  must hold across instances (message-send, socket-typing) are in the rate-limit table. */
    eventsPerSecond: 20,
    eventBurst: 100,
    /** Rejected events (flood, rate limits, invalid payloads) tolerated per connection within
     *  violationWindowMs before it is disconnected with the reason `rate_limited`. A buggy
     *  but honest client sees its acks fail long before; only a client that ignores them is
     *  cut off. */
    maxViolations: 50,
    violationWindowMs: 60_000,
    /** Frames queued for one connection that its transport has not yet taken. The queue grows
     *  only while the connection's previous write has not reached the kernel, i.e. while the
     *  client is not reading (a frozen tab, a phone that went to sleep mid-burst, a script) or
     *  reads far slower than its rooms talk; Socket.IO itself would queue without limit. Past
     *  this the connection is cut and the client, once it reads again, reconnects and catches
     *  up as after any reconnect (services/socket/outgoing-queue-bound.ts says why not drop
     *  frames instead). A healthy client's queue stays near 0 even at bench:realtime's 500
     *  messages/s into a 1,000-member room; 1,000 frames is 2 s of that burst, and with
     *  message frames of ~1 KB about 1 MB held per stuck connection (Centrifugo closes at
     *  1 MiB). */
    maxQueuedFrames: 1_000,
    /** Conversations joined or caught up in one event. A client opening with more sends
     *  several; each id costs one cached membership check. */
    maxConversationsPerEvent: 100,
    /** Messages returned per conversation by one catch-up; `complete: false` asks the client
     *  to continue from the last one (or to load history over HTTP after a long absence). */
    catchUpPageSize: 100,
    /** How often each instance re-checks the sessions of its sockets. Revocation disconnects
     *  at once through Redis; this catches a revocation announced while Redis was down. One
     *  cached session lookup per session per interval. */
    sessionRecheckMs: 15_000,
    /** Redis Cluster: after a failover ioredis rebuilds the gateway's sharded subscriptions
     *  several times (each slot refresh while the dead master is still listed), each time
     *  saying `subscribersReady`. Sockets are told to catch up once the rebuilds have been
     *  quiet this long: one catch-up per socket per failover, not one per rebuild. */
    clusterResyncQuietMs: 1_000,
    /** Time to wait for a handler of an event (a send commits to PostgreSQL) before the ack
     *  reports a timeout, so a client never waits forever on a hung dependency. */
    handlerTimeoutMs: 10_000,
  },
  /** Polls in conversations (lib/polls/). */
  polls: {
    /** Characters of a question: two long sentences, enough for "Which date suits the parents'
     *  evening?" with context. Also the polls_question_length constraint. */
    maxQuestionChars: 300,
    /** Options per poll: a choice needs two; ten is a long ballot still readable on a phone
     *  (and keeps a poll's result hash small). Also the poll_options_position constraint. */
    minOptions: 2,
    maxOptions: 10,
    /** Characters of one option: a short answer, not a paragraph. Also poll_options_text_length. */
    maxOptionChars: 100,
    /** Polls per page of a conversation's list, each with its results: default and bound.
     *  Every poll on a page costs one Redis read (a miss, one GROUP BY), so the bound keeps a
     *  page cheap after a FLUSHALL. */
    defaultPageSize: 20,
    maxPageSize: 50,
    /** Lifetime of a poll's result hash in the cache Redis. Votes update it in place, so the
     *  TTL only lets polls nobody opened for a day leave memory; a rebuild is one GROUP BY. */
    resultsTtlMs: 24 * 60 * 60 * 1_000,
    /** ±10 %, as the cache namespaces (lib/cache/cache.policies.ts): hashes rebuilt together
     *  after a FLUSHALL do not all expire in the same second. */
    resultsTtlJitter: 0.1,
  },
  /** The transactional outbox and its relay in the worker (lib/outbox/). */
  outbox: {
    /** Rows handed to a consumer at once. One batch is one SELECT and one position update;
     *  500 rows of a burst cost a few milliseconds of PostgreSQL and keep a webhook request
     *  body well under a megabyte. */
    batchSize: 500,
    /** The relay wakes on NOTIFY at every commit that wrote rows; this poll only covers a
     *  notification lost while its listening connection was down. */
    pollIntervalMs: 5_000,
    /** The `realtime` consumer re-publishes an unpublished row only once it is this old: the
     *  writer's own fast path (a publish and one UPDATE, milliseconds) may still be running,
     *  and a second publish would only cost a duplicate. 3 s is far above the fast path and
     *  short enough that an event committed during an outage arrives soon after Redis does. */
    realtimeGraceMs: 3_000,
    /** A consumer whose batch failed (Redis down, a receiver failing) retries the same batch
     *  with exponential backoff and full jitter, base * 2^attempt, capped: a dead Redis costs a
     *  query every few seconds, and a recovered one is used again within the cap. */
    retryBaseDelayMs: 250,
    retryMaxDelayMs: 5_000,
    /** Rows every consumer has passed are kept this long (lib/outbox/outbox-retention.ts), for
     *  operators tracing an event and a webhook receiver asking for a replay; then pruned in
     *  batches of retentionBatchSize. */
    retentionMs: 7 * 24 * 60 * 60 * 1_000,
    retentionBatchSize: 5_000,
  },
  /** The delivery job (services/worker/delivery-jobs.ts) and in-app notifications. */
  delivery: {
    /** Attempts of one delivery job (PostgreSQL briefly gone); the effect is idempotent, so a
     *  retry after a partial run is harmless. Exponential backoff from retryDelayMs. */
    attempts: 8,
    retryDelayMs: 500,
    /** Completed jobs kept this long, so a row handed over twice (a relay stopped between the
     *  enqueue and its position update) finds its job id taken and makes no second job. */
    keepCompletedMs: 60 * 60 * 1_000,
    /** Failed jobs kept for operators to inspect. */
    keepFailedMs: 7 * 24 * 60 * 60 * 1_000,
    /** A running job's lock, renewed every half of it while the worker lives. When a worker
     *  dies (SIGKILL, OOM, a lost host) its jobs run again once the lock expires and the next
     *  stalled-job check (every stalledCheckMs) finds them: 10 s each instead of BullMQ's 30 s
     *  keeps offline members' notifications at most ~20 s late after a crash, for one renewal
     *  per running job every 5 s. */
    lockDurationMs: 10_000,
    stalledCheckMs: 10_000,
    /** Conversations whose delivery progress a worker remembers in memory, most recent first:
     *  the jobs of a burst's later messages then see their message delivered without asking
     *  PostgreSQL. A conversation forgotten costs one indexed read; 10,000 numbers are ~1 MiB. */
    progressMemoryConversations: 10_000,
  },
  notifications: {
    /** Notifications per page of GET /notifications: default and upper bound. */
    defaultPageSize: 20,
    maxPageSize: 100,
  },
  worker: {
    /** Bound of each query a /metrics scrape makes (queue depth: BullMQ getJobCounts, one
     *  pipeline per queue; outbox lag: two indexed PostgreSQL reads per consumer), so a hung
     *  Redis or PostgreSQL cannot hang the scrape; the previous values stand meanwhile. */
    scrapeQueryTimeoutMs: 1_000,
    /** Bound of the start-up move of jobs from the legacy queue prefix (a few commands per
     *  job; an upgrade strands at most a minute of jobs). On time-out the worker runs on and
     *  the next start finishes the move. */
    legacyQueueMoveTimeoutMs: 30_000,
  },
  /** Presence, room presence and typing (lib/realtime/): every gateway instance refreshes its
   *  own connections in Redis; what is not refreshed expires on Redis' clock. */
  presence: {
    /** A connection counts as alive this long after its last refresh. A 5-minute TTL
     *  would leave the users of a crashed (SIGKILLed) gateway "online" for five minutes, which
     *  a teacher checking who is there would notice; 45 s is three heartbeats, so a connection
     *  survives two missed ones (a GC pause, a Redis timeout, a slow event loop) and never
     *  flickers offline, while a crash shows within 45 s (+ one sweep interval for the
     *  broadcast). Shorter costs more heartbeat writes for little gain. */
    ttlMs: 45_000,
    /** Each instance refreshes all its connections in one pipeline this often (one timer per
     *  instance, not per socket): 10 000 sockets cost ~670 tiny scripts a second. */
    heartbeatIntervalMs: 15_000,
    /** Every instance sweeps this often for users whose connections expired (a crashed
     *  instance's), so "offline" reaches their contacts at most this long after the TTL. A
     *  sweep is one script per index shard when nothing is due. */
    sweepIntervalMs: 5_000,
    /** "Last seen" is kept this long after a user goes offline (rebuilt by the next session;
     *  PostgreSQL does not keep it). Longer than a school holiday. */
    lastSeenRetentionMs: 30 * 24 * 60 * 60 * 1_000,
    /** Expired entries are kept this long past their deadline so that a sweep can still tell
     *  who stopped; after it (every gateway down that long) Redis drops them by itself. */
    expiredEntryGraceMs: 10 * 60 * 1_000,
    /** Users answered by one presence query (HTTP and socket): a class list or a large group
     *  page, in one round trip to Redis. */
    maxBatchUsers: 500,
    /** The indexes of online users, active rooms and typists are split into this many
     *  hash-tagged shards (Redis Cluster slots): each script touches one slot, 16 spread a
     *  cluster's masters, and a sweep costs one script call per shard. Changing it renames the
     *  keys; heartbeats rebuild presence within one interval. */
    indexShards: 16,
    /** Groups expired per shard per sweep at most, so one sweep stays short after an outage;
     *  the rest are picked up by the next one. */
    sweepBatchPerShard: 200,
    /** A typing indicator lasts this long without a refresh: clients resend "typing" every
     *  few seconds while keys are pressed, so 6 s covers one lost refresh, and a typist who
     *  goes quiet or whose gateway dies stops showing within 6 s (+ one typing sweep). */
    typingTtlMs: 6_000,
    /** Every instance sweeps expired typists this often: the stop is shown at most this late. */
    typingSweepIntervalMs: 1_000,
    /** "In a call" lasts this long without a refresh. Joins and leaves set and clear it at once
     *  (lib/calls); the calls reconciler refreshes it every policy.calls.reconcileIntervalMs
     *  (3 s) and rebuilds it after a flush, so 30 s survives a worker restart, while a leave
     *  lost to a Redis outage stops showing within 30 s. */
    inCallTtlMs: 30_000,
  },
  /** Outgoing webhooks to integrations (lib/webhooks/). WEBHOOK_* variables override the
   *  attempts, backoff and concurrency (docs/configuration.md). */
  webhooks: {
    /** Attempts per delivery before it is dead-lettered. With the backoff below, eight
     *  attempts span up to ~21 minutes of an integration's outage (10 s · (1+2+…+64), each
     *  drawn with full jitter); a longer outage is an operator's matter: retry from the admin
     *  API or `quad jobs retry`. */
    maxAttempts: 8,
    /** Exponential backoff with full jitter: the n-th retry waits a uniform random time in
     *  [0, min(max, base · 2^(n-1))], so the deliveries that failed together during an outage
     *  do not all hit the receiver again in the same second when it comes back. */
    backoffBaseMs: 10_000,
    backoffMaxMs: 15 * 60 * 1_000,
    /** One POST, connect to last byte. A receiver should answer at once and do its work
     *  later; 10 s tolerates a slow one without letting a hung one hold a worker slot. */
    requestTimeoutMs: 10_000,
    /** Deliveries sent at once per worker process. Webhook jobs wait on the network, not the
     *  CPU; 16 keeps a handful of slow receivers from delaying everyone else's events. */
    concurrency: 16,
    /** Characters of a receiver's error kept in last_error (the admin API shows it). */
    maxErrorChars: 500,
    /** Random bytes of a signing secret (256 bits). */
    secretBytes: 32,
    /** Webhooks an institution may register: integrations are a few, and each event is
     *  POSTed to every subscribed one. */
    maxWebhooks: 50,
    /** Deliveries per page of GET /admin/webhooks/:id/deliveries: default and bound. */
    defaultPageSize: 50,
    maxPageSize: 200,
    /** Characters of a webhook URL (browsers accept ~2 000; longer is not a real endpoint). */
    maxUrlChars: 2_048,
  },
  /** Repeatable upkeep jobs of the worker (services/worker/maintenance-schedule.ts). Each runs
   *  on one worker at a time, wherever several run (BullMQ job schedulers). */
  maintenance: {
    /** Messages past the institution's retention are blanked (soft delete) this often; an
     *  hour late is nothing against a retention counted in days. */
    retentionIntervalMs: 60 * 60 * 1_000,
    /** Messages blanked per statement: a short transaction that never holds many row locks
     *  while people are sending; ... */
    retentionBatchSize: 1_000,
    /** ...and statements per run, so a first run over years of history is spread over hours
     *  instead of loading PostgreSQL for minutes. */
    retentionMaxBatchesPerRun: 20,
    /** Expired or revoked sessions are deleted this long after they ended: the "your
     *  sessions" list and an investigation can still see recent ones. */
    sessionGraceDays: 7,
    sessionCleanupIntervalMs: 6 * 60 * 60 * 1_000,
    sessionBatchSize: 5_000,
    /** Presence, room and typing leftovers are swept this often as a safety net: the socket
     *  gateways sweep every few seconds; this only matters when none is running (a rolling
     *  deploy, a crash of all of them). */
    staleRealtimeIntervalMs: 60_000,
    /** The cache Redis is checked for a flush this often (a sentinel key that FLUSHALL or an
     *  eviction removes): a cold cache is warm again within a minute. */
    warmUpCheckIntervalMs: 30_000,
    /** Users active (a session seen) within this window get their unread counts warmed, and
     *  conversations with a message within it their recent messages: a school day. */
    warmUpActiveWithinHours: 24,
    /** Bounds of one warm-up, most recent first: a warm-up must cost PostgreSQL far less than
     *  the cold reads it saves. */
    warmUpMaxUsers: 2_000,
    warmUpMaxConversations: 2_000,
    /** Users or conversations warmed per round trip to PostgreSQL and Redis. */
    warmUpBatchSize: 50,
    /** Succeeded webhook deliveries are kept this long for the admin API, then deleted with
     *  the session clean-up; dead ones are kept until an operator retries or drops them. */
    deliveredWebhookRetentionDays: 30,
    /** Pending webhook deliveries with no job (the state Redis was flushed, the api could not
     *  enqueue a retry) are enqueued again this often, when their next attempt is this late. */
    webhookRequeueIntervalMs: 60_000,
    webhookRequeueAfterMs: 2 * 60 * 1_000,
  },
  /** Voice and video calls on LiveKit (lib/calls, docs/calls.md). */
  calls: {
    /** Lifetime of a LiveKit join token. A token only opens the connection (LiveKit renews it
     *  for a connected participant), so it is short: a member removed from the conversation
     *  holds a token that opens the room for at most this long, and is removed again by the
     *  webhook of that join (and never given the key of the media that follows). */
    tokenTtlSeconds: 120,
    /** Cap of a call's media key in Redis (`SET ... PX`): ended calls delete theirs at once;
     *  this bounds what a lost end (a crash, a missed webhook) leaves behind. A call that
     *  lasts longer gets a fresh key from the reconciler before this runs out. */
    keyTtlMs: 2 * 60 * 60 * 1_000,
    /** A key older than this is rotated by the reconciler, well before its TTL. */
    keyRefreshAfterMs: 90 * 60 * 1_000,
    /** Bytes of a media key: LiveKit's frame encryption derives AES-GCM keys from it. */
    keyBytes: 32,
    /** Slots of LiveKit's key ring: key indexes go 0..15 and wrap. */
    keyRingSize: 16,
    /** Leaves within this window after the first share one rotation: ten people leaving at
     *  the end of a class cost one new key, not ten. Short enough that what a leaver could
     *  still decrypt is a fraction of a second. */
    rotationBatchMs: 250,
    /** A pending rotation is recorded in Redis (its claim) this long at most: its claimer
     *  deletes it once the key is rotated, so this only bounds what a lost claim leaves. */
    rotationLeaseMs: 30_000,
    /** A pending rotation still recorded this long after its claim has lost its claimer (a
     *  crash or a kill inside the window: rotating takes the window plus one transaction), and
     *  the reconciler completes it; so a leaver's key stops being current within this plus
     *  one reconcile interval even then. A slow claimer that is alive after all rotates a
     *  second time, which costs a key index, not a gap. */
    rotationTakeoverAfterMs: 2_000,
    /** The worker compares live state with LiveKit's own (listRooms, listParticipants) this
     *  often while calls are live: it catches lost, late and missing webhooks. */
    reconcileIntervalMs: 3_000,
    /** Bound of one call to LiveKit's server API. */
    livekitRequestTimeoutMs: 5_000,
    /** Applied webhook event ids are kept this long: LiveKit retries a delivery for minutes. */
    webhookDedupeDays: 7,
    /** The reconciler deletes older event ids this often. */
    webhookDedupePruneIntervalMs: 60 * 60 * 1_000,
    /** Calls per page of GET /calls. */
    historyPageSize: 50,
  },
} as const;
