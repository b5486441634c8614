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
     *  better served by falling back to PostgreSQL (design invariant 2). */
    commandTimeoutMs: 300,
    /** Retry a failed command once on a fresh connection, then give up and fall back. */
    maxRetriesPerRequest: 1,
    /** Reconnect with exponential backoff and full jitter: base * 2^attempt, capped, so a
     *  fleet of services does not reconnect in lock-step after a Redis restart. */
    reconnectBaseDelayMs: 100,
    reconnectMaxDelayMs: 10_000,
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
    /** Messages of each conversation kept in the Redis sorted set (seed 004: the last 100). */
    recentMessagesKept: 100,
    /** Characters of the last message shown in a conversation list. */
    previewChars: 140,
  },
} as const;
