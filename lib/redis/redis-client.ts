import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisEndpoint } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';

/**
 * How a connection is used decides its timeouts:
 * - `command`: ordinary request-path commands, each bounded by policy.redis.commandTimeoutMs and
 *   failing at once while disconnected, so a dead Redis costs the caller nothing.
 * - `queue`: BullMQ connections. BullMQ runs blocking commands and requires
 *   maxRetriesPerRequest=null; a command timeout would cut its long polls.
 * - `subscriber`: pub/sub (Socket.IO adapter); no command timeout, resubscribes on reconnect.
 */
export type RedisConnectionRole = 'command' | 'queue' | 'subscriber';

/**
 * A connection to one Redis role: a single server (`Redis`) or a Redis Cluster (`Cluster`),
 * as the role's configuration says (lib/config, REDIS_[CACHE_]CLUSTER_NODES). Both speak the
 * same commands, scripts and pipelines; what differs on a cluster is that one command, script or
 * pipeline must stay within one slot (lib/redis/slot-batches.ts splits batches that may not).
 */
export type RedisClient = Redis | Cluster;

/** Whether `client` is a Redis Cluster connection. */
export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** The options every connection of `client` was made with: a cluster's per-node options. */
export function connectionOptions(client: RedisClient): RedisOptions {
  return isCluster(client) ? (client.options.redisOptions ?? {}) : client.options;
}

/** Exponential backoff with full jitter, capped. Never gives up: Redis comes back by itself. */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const { reconnectBaseDelayMs: base, reconnectMaxDelayMs: cap } = policy.redis;
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.max(base, Math.round(random() * ceiling));
}

export function redisOptions(
  endpoint: RedisEndpoint,
  role: RedisConnectionRole,
  connectionName: string,
): RedisOptions {
  const common: RedisOptions = {
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.username,
    password: endpoint.password,
    db: endpoint.db,
    ...(endpoint.tls ? { tls: {} } : {}),
    connectionName,
    connectTimeout: policy.redis.connectTimeoutMs,
    retryStrategy: (attempt) => reconnectDelay(attempt),
    // Start connecting at once but let callers decide whether to wait for readiness.
    lazyConnect: false,
  };
  switch (role) {
    case 'command':
      return {
        ...common,
        commandTimeout: policy.redis.commandTimeoutMs,
        maxRetriesPerRequest: policy.redis.maxRetriesPerRequest,
        enableOfflineQueue: false,
      };
    case 'queue':
      return { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true };
    case 'subscriber':
      return { ...common, maxRetriesPerRequest: null, enableOfflineQueue: true };
  }
}

/**
 * The cluster form of redisOptions: each node connection gets the role's options, and the
 * cluster-level options carry what ioredis only reads there. On a failover the client learns
 * the new master from MOVED answers and its periodic slot refresh; `command` calls fail fast
 * meanwhile (no offline queue), the others wait for it.
 */
export function clusterOptions(
  endpoint: RedisEndpoint,
  role: RedisConnectionRole,
  connectionName: string,
): ClusterOptions {
  const {
    host: _host,
    port: _port,
    retryStrategy: _retry,
    enableOfflineQueue,
    lazyConnect,
    db: _db,
    ...nodeOptions
  } = redisOptions(endpoint, role, connectionName);
  return {
    redisOptions: nodeOptions,
    enableOfflineQueue,
    lazyConnect,
    clusterRetryStrategy: (attempt) => reconnectDelay(attempt),
    // A node that drops its connection (a restart, a replica's promotion) is reconnected
    // instead of waiting for a MOVED answer that a quiet slot may never produce.
    clusterNodeRetryStrategy: (attempt) => reconnectDelay(attempt),
    slotsRefreshInterval: policy.redis.clusterSlotsRefreshIntervalMs,
    slotsRefreshTimeout: policy.redis.connectTimeoutMs,
    retryDelayOnFailover: policy.redis.clusterRetryDelayMs,
    retryDelayOnClusterDown: policy.redis.clusterRetryDelayMs,
    retryDelayOnTryAgain: policy.redis.clusterRetryDelayMs,
    // SPUBLISH/SSUBSCRIBE (the gateways' sharded Socket.IO adapter): one subscriber connection
    // per master, resubscribed by ioredis when a slot moves.
    shardedSubscribers: role === 'subscriber',
    ...(role === 'command' ? { maxRedirections: policy.redis.clusterCommandRedirections } : {}),
  };
}

/**
 * Creates a Redis client for one role. The composition root owns its lifecycle (quit on
 * shutdown). Connection errors are logged once per state change, not once per retry, and an
 * `error` listener is always attached: an EventEmitter without one would crash the process.
 */
export function createRedisClient(
  endpoint: RedisEndpoint,
  role: RedisConnectionRole,
  connectionName: string,
  logger: Logger,
): RedisClient {
  const client: RedisClient = endpoint.clusterNodes
    ? new Cluster(
        endpoint.clusterNodes.map((node) => ({ host: node.host, port: node.port })),
        clusterOptions(endpoint, role, connectionName),
      )
    : new Redis(redisOptions(endpoint, role, connectionName));
  logConnectionHealth(
    client,
    logger.child({ redis: endpoint.display, connection: connectionName }),
  );
  return client;
}

/** What logConnectionHealth needs of a client: ioredis' and node-redis' are both emitters. */
interface ConnectionEvents {
  on(event: 'ready' | 'error', listener: (error: Error) => void): unknown;
}

/**
 * Logs a connection's loss once and its return once (not every failed reconnect attempt),
 * for any Redis client library. The `error` listener it adds is also what keeps an emitter's
 * error event from crashing the process.
 */
export function logConnectionHealth(client: ConnectionEvents, log: Logger): void {
  let healthy = true;
  client.on('ready', () => {
    if (!healthy) log.info('redis connection restored');
    healthy = true;
  });
  client.on('error', (error: Error) => {
    if (healthy) log.warn({ err: error.message }, 'redis connection failed; retrying with backoff');
    healthy = false;
  });
}

/** Quit politely, but never wait on a Redis that is gone. */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
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
    client.disconnect();
  }
}
