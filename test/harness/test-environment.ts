import { randomBytes } from 'node:crypto';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import pg from 'pg';
import { createDatabase } from './postgres-server.js';

/**
 * The shared servers test/run.ts starts once per run, described to every test file through one
 * environment variable. Tests isolate themselves with a database and a key prefix of their own.
 */
export interface SharedRedis {
  /** The server's port; a cluster's first node. */
  port: number;
  passwords: Record<'default' | 'api' | 'socket' | 'worker', string>;
  /** Set when this role is a Redis Cluster: `127.0.0.1:port,...` of its nodes. */
  clusterNodes?: string;
}

export interface SharedServers {
  postgres: { url: string; port: number; user: string; password: string };
  redis: SharedRedis;
  redisCache: SharedRedis;
}

export const SHARED_SERVERS_VARIABLE = 'QUAD_TEST_SERVERS';

/**
 * The one switch between the two Redis topologies the behaviour suite runs on: unset (or
 * `single`) for one state and one cache redis-server, `cluster` for a Redis Cluster per role
 * (`make test-cluster`). test/run.ts reads it to start the shared servers and pick the files.
 */
export const REDIS_TOPOLOGY_VARIABLE = 'QUAD_TEST_REDIS';

export function redisTopology(): 'single' | 'cluster' {
  const value = process.env[REDIS_TOPOLOGY_VARIABLE] ?? 'single';
  if (value !== 'single' && value !== 'cluster') {
    throw new Error(`${REDIS_TOPOLOGY_VARIABLE} must be single or cluster, not "${value}"`);
  }
  return value;
}

export function sharedServers(): SharedServers {
  const raw = process.env[SHARED_SERVERS_VARIABLE];
  if (!raw) {
    throw new Error(
      `${SHARED_SERVERS_VARIABLE} is not set: run integration tests through \`npm test\` (test/run.ts), which starts real Redis and PostgreSQL servers`,
    );
  }
  return JSON.parse(raw) as SharedServers;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** A fresh, empty database on the shared server; returns its URL and a drop function. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const servers = sharedServers();
  const name = uniqueName('quad_test');
  const url = await createDatabase(servers.postgres.url, name);
  return {
    url,
    async drop() {
      const client = new pg.Client({ connectionString: servers.postgres.url });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** The WEBHOOK_SECRET_KEY of every api and worker one test file starts: they share secrets. */
export const testWebhookSecretKey = randomBytes(32).toString('hex');

/**
 * The environment an operator would give `service` to run against the shared servers (a
 * Redis Cluster per role when the run's topology is `cluster`), or the given Redis ports: its own ACL user and password, a database URL, the host profile, and for
 * the api and the worker the key that seals webhook secrets.
 */
export function serviceEnvironment(
  service: 'api' | 'socket' | 'worker',
  databaseUrl: string,
  redisPorts?: { state: number; cache: number },
): Record<string, string> {
  const servers = sharedServers();
  const statePort = redisPorts?.state ?? servers.redis.port;
  const cachePort = redisPorts?.cache ?? servers.redisCache.port;
  const clusters =
    redisPorts === undefined
      ? {
          ...(servers.redis.clusterNodes
            ? { REDIS_CLUSTER_NODES: servers.redis.clusterNodes }
            : {}),
          ...(servers.redisCache.clusterNodes
            ? { REDIS_CACHE_CLUSTER_NODES: servers.redisCache.clusterNodes }
            : {}),
        }
      : {};
  return {
    QUAD_PROFILE: 'host',
    REDIS_PORT: String(statePort),
    REDIS_CACHE_PORT: String(cachePort),
    ...clusters,
    REDIS_USERNAME: service,
    REDIS_PASSWORD: servers.redis.passwords[service],
    DATABASE_URL: databaseUrl,
    ...(service === 'socket' ? {} : { WEBHOOK_SECRET_KEY: testWebhookSecretKey }),
  };
}

/**
 * A client of a shared Redis role as `user`, for what a test checks or drives itself (cache
 * entries, BullMQ queues): a plain client on a single server, a cluster client (which follows
 * slots and failovers) when the run's topology is `cluster`. `options` are per connection.
 */
export function sharedRedisClient(
  role: 'state' | 'cache',
  user: 'default' | 'api' | 'socket' | 'worker',
  options: Omit<RedisOptions, 'host' | 'port' | 'username' | 'password'> = {},
): Redis | Cluster {
  const servers = sharedServers();
  const shared = role === 'state' ? servers.redis : servers.redisCache;
  const credentials = { username: user, password: shared.passwords[user] };
  if (shared.clusterNodes) {
    const { lazyConnect, maxRetriesPerRequest, ...nodeOptions } = options;
    return new Cluster(
      shared.clusterNodes.split(',').map((node) => {
        const [host, port] = node.split(':');
        return { host: host ?? '127.0.0.1', port: Number(port) };
      }),
      {
        lazyConnect: lazyConnect ?? false,
        ...(maxRetriesPerRequest === undefined ? {} : { maxRetriesPerRequest }),
        redisOptions: { ...nodeOptions, ...credentials },
      },
    );
  }
  return new Redis({ ...options, host: '127.0.0.1', port: shared.port, ...credentials });
}
