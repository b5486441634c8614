import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDatabase } from './postgres-server.js';

/**
 * The shared servers test/run.ts starts once per run, described to every test file through one
 * environment variable. Tests isolate themselves with a database and a key prefix of their own.
 */
export interface SharedServers {
  postgres: { url: string; port: number; user: string; password: string };
  redis: { port: number; passwords: Record<'default' | 'api' | 'socket' | 'worker', string> };
  redisCache: { port: number; passwords: Record<'default' | 'api' | 'socket' | 'worker', string> };
}

export const SHARED_SERVERS_VARIABLE = 'QUAD_TEST_SERVERS';

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
 * The environment an operator would give `service` to run against the shared servers (or the
 * given Redis ports): its own ACL user and password, a database URL, the host profile, and for
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
  return {
    QUAD_PROFILE: 'host',
    REDIS_PORT: String(statePort),
    REDIS_CACHE_PORT: String(cachePort),
    REDIS_USERNAME: service,
    REDIS_PASSWORD: servers.redis.passwords[service],
    DATABASE_URL: databaseUrl,
    ...(service === 'socket' ? {} : { WEBHOOK_SECRET_KEY: testWebhookSecretKey }),
  };
}
