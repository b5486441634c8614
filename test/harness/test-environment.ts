import { randomBytes } from 'node:crypto';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import pg from 'pg';
import { createDatabase } from './postgres-server.js';
import { waitFor } from './wait-for.js';

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

/** The application_name of the harness's own administrative sessions (pg_stat_activity). */
export const HARNESS_APPLICATION_NAME = 'quad-test-harness';

/**
 * How long drop() waits for the sessions of a test database to end by themselves. Sessions a
 * test closed properly end in milliseconds, or a few hundred on a loaded machine: one still
 * open after this is a client or pool the test never closed.
 */
const SESSIONS_END_TIMEOUT_MS = 10_000;

interface OpenSession {
  pid: number;
  application_name: string;
  state: string | null;
  query: string;
}

/** The client sessions connected to `database`, the harness's own one excepted. */
async function openSessions(admin: pg.Client, database: string): Promise<OpenSession[]> {
  const found = await admin.query<OpenSession>(
    `SELECT pid, application_name, state, left(query, 120) AS query FROM pg_stat_activity
     WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    [database],
  );
  return found.rows;
}

export interface TestDatabase {
  url: string;
  /**
   * Waits until every session connected to the database has ended (bounded by `waitMs`), then
   * drops it. Waiting matters: `pg.Pool#end()` resolves once it has asked its clients to close,
   * not once they are closed (pg-pool removes a client from its list before its socket ends),
   * and a backend that has not yet read the client's Terminate when DROP DATABASE ... WITH
   * (FORCE) signals it answers with a FATAL "terminating connection due to administrator
   * command", which a pool without an 'error' listener turns into an uncaught exception in the
   * test. A session still open after `waitMs` is a leak: it is terminated so the database goes
   * anyway, and drop() rejects naming it.
   */
  drop(options?: { waitMs?: number }): Promise<void>;
}

/** A fresh, empty database on the shared server; returns its URL and a drop function. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const servers = sharedServers();
  const name = uniqueName('quad_test');
  const url = await createDatabase(servers.postgres.url, name);
  return {
    url,
    async drop({ waitMs = SESSIONS_END_TIMEOUT_MS } = {}) {
      const admin = new pg.Client({
        connectionString: servers.postgres.url,
        application_name: HARNESS_APPLICATION_NAME,
      });
      await admin.connect();
      try {
        let leaked: OpenSession[] = [];
        try {
          await waitFor(
            `the sessions on ${name} to end`,
            async () => (await openSessions(admin, name)).length === 0,
            waitMs,
          );
        } catch {
          leaked = await openSessions(admin, name);
        }
        // FORCE still: a leaked session, or one opened since the last look, must not keep the
        // database (and its connections) on the shared server.
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        if (leaked.length > 0) {
          const described = leaked.map(
            (session) =>
              `pid ${session.pid} (application '${session.application_name}', ${session.state ?? 'no state'}, last query: ${session.query})`,
          );
          throw new Error(
            `${leaked.length} session(s) on ${name} still open ${waitMs} ms after the test closed its clients, terminated by the drop: ${described.join('; ')}`,
          );
        }
      } finally {
        await admin.end();
      }
    },
  };
}

/** The WEBHOOK_SECRET_KEY of every api and worker one test file starts: they share secrets. */
export const testWebhookSecretKey = randomBytes(32).toString('hex');

/**
 * The environment an operator would give `service` to run against the shared servers (a
 * Redis Cluster per role when the run's topology is `cluster`), or the given Redis ports: its
 * own ACL user and password, a database URL, the host profile, and for the api and the worker
 * the key that seals webhook secrets.
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
