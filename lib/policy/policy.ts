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
} as const;
