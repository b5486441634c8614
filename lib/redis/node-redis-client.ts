import { createClient, createCluster, ErrorReply } from 'node-redis-v4';
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
export type NodeRedisClient = ReturnType<typeof createClient> | ReturnType<typeof createCluster>;

export function createNodeRedisClient(
  endpoint: RedisEndpoint,
  connectionName: string,
  logger: Logger,
): NodeRedisClient {
  const socket = {
    connectTimeout: policy.redis.connectTimeoutMs,
    reconnectStrategy: (attempt: number) => reconnectDelay(attempt),
    ...(endpoint.tls ? { tls: true as const } : {}),
  };
  const log = logger.child({ redis: endpoint.display, connection: connectionName });
  if (endpoint.clusterNodes) {
    // A Redis Cluster: the cluster client discovers the slots from the seeds, keeps one
    // connection per master (each with the socket options above, so each reconnects with the
    // same backoff) and follows MOVED/ASK. Every key of one call shares a hash tag, so a MULTI
    // stays on one node.
    const cluster = createCluster({
      rootNodes: endpoint.clusterNodes.map((node) => ({
        socket: { host: node.host, port: node.port },
      })),
      defaults: {
        socket,
        username: endpoint.username,
        password: endpoint.password,
        name: connectionName,
        disableOfflineQueue: true,
      },
    });
    logConnectionHealth(cluster, log);
    connectClusterUntilClosed(cluster, log);
    return cluster;
  }
  const client = createClient({
    socket: { host: endpoint.host, port: endpoint.port, ...socket },
    username: endpoint.username,
    password: endpoint.password,
    database: endpoint.db,
    name: connectionName,
    disableOfflineQueue: true,
  });
  logConnectionHealth(client, log);
  client.connect().catch(() => {
    // The error listener has logged it; the reconnect strategy keeps trying.
  });
  return client;
}

/**
 * A cluster client's first `connect()` fails for good when no seed answers (its per-node
 * reconnect strategy applies only once the topology is known), so the process would never reach
 * a cluster that starts after it: retry discovery with the same backoff until it succeeds or
 * the client is closed.
 */
const closedClients = new WeakSet<NodeRedisClient>();

function connectClusterUntilClosed(cluster: ReturnType<typeof createCluster>, log: Logger): void {
  let attempt = 0;
  const tryConnect = (): void => {
    cluster.connect().catch((error: unknown) => {
      if (attempt === 0) {
        log.warn(
          { err: (error as Error).message },
          'redis cluster unreachable; retrying with backoff',
        );
      }
      attempt += 1;
      const delay = reconnectDelay(attempt);
      setTimeout(() => {
        if (!cluster.isOpen && !closedClients.has(cluster)) tryConnect();
      }, delay).unref();
    });
  };
  tryConnect();
}

/** The client's state as the breaker reads it (ioredis' `status` words). A cluster client has no
 *  `isReady`: it counts as ready once its topology is known, and the breaker learns of a lost
 *  node from the commands that fail. */
export function nodeRedisStatus(client: NodeRedisClient): {
  readonly status: 'ready' | 'connecting';
} {
  return {
    get status() {
      const ready = 'isReady' in client ? client.isReady : client.isOpen;
      return ready ? 'ready' : 'connecting';
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
  closedClients.add(client);
  if (!client.isOpen) return;
  if ('isReady' in client && !client.isReady) {
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
