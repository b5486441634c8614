import { createClient, ErrorReply } from 'node-redis-v4';
import type { RedisEndpoint } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';
import { logConnectionHealth, reconnectDelay } from './redis-client.js';

/**
 * A node-redis client to the state Redis, for the one capability that needs it: redis-om (live
 * call state, lib/calls) speaks node-redis, not ioredis (docs/architecture.md says why it is
 * used at all). Bounded like the ioredis command clients: the same connect timeout and reconnect
 * backoff, no offline queue (a command while disconnected fails at once), and every command
 * bounded by policy.redis.commandTimeoutMs through `boundedCommand` (node-redis 4 has no
 * per-command timeout of its own).
 */
export type NodeRedisClient = ReturnType<typeof createClient>;

export function createNodeRedisClient(
  endpoint: RedisEndpoint,
  connectionName: string,
  logger: Logger,
): NodeRedisClient {
  const client = createClient({
    socket: {
      host: endpoint.host,
      port: endpoint.port,
      connectTimeout: policy.redis.connectTimeoutMs,
      reconnectStrategy: (attempt) => reconnectDelay(attempt),
      ...(endpoint.tls ? { tls: true as const } : {}),
    },
    username: endpoint.username,
    password: endpoint.password,
    database: endpoint.db,
    name: connectionName,
    disableOfflineQueue: true,
  });
  logConnectionHealth(
    client,
    logger.child({ redis: endpoint.display, connection: connectionName }),
  );
  client.connect().catch(() => {
    // The error listener has logged it; the reconnect strategy keeps trying.
  });
  return client;
}

/** The client's state as the breaker reads it (ioredis' `status` words). */
export function nodeRedisStatus(client: NodeRedisClient): {
  readonly status: 'ready' | 'connecting';
} {
  return {
    get status() {
      return client.isReady ? 'ready' : 'connecting';
    },
  };
}

export class RedisCommandTimeoutError extends Error {
  constructor(ms: number) {
    super(`redis command timed out after ${ms} ms`);
    this.name = 'RedisCommandTimeoutError';
  }
}

/** `operation` bounded by policy.redis.commandTimeoutMs: a hung Redis costs the caller that,
 *  never more. */
export async function boundedCommand<T>(operation: () => Promise<T>): Promise<T> {
  const ms = policy.redis.commandTimeoutMs;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      operation(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RedisCommandTimeoutError(ms)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** An error reply from Redis itself through node-redis (WRONGTYPE, NOPERM, ...). */
export function isNodeRedisReply(error: unknown): boolean {
  return error instanceof ErrorReply;
}

/** Quit politely, but never wait on a Redis that is gone. */
export async function closeNodeRedisClient(client: NodeRedisClient): Promise<void> {
  if (!client.isOpen) return;
  if (!client.isReady) {
    await client.disconnect().catch(() => undefined);
    return;
  }
  try {
    await Promise.race([
      client.quit(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('quit timed out')), policy.redis.connectTimeoutMs),
      ),
    ]);
  } catch {
    await client.disconnect().catch(() => undefined);
  }
}
