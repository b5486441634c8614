import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { startRedisServer } from './redis-server.js';
import type { QuadService } from './service-process.js';
import { createTestDatabase, serviceEnvironment } from './test-environment.js';

/** RATE_LIMITS high enough that a test's own logins, sends and calls are never refused. */
export const generousRateLimits = JSON.stringify({
  'login-ip': { limit: 1_000, windowMs: 60_000 },
  'login-account': { limit: 1_000, windowMs: 60_000 },
  'message-send': { limit: 10_000, windowMs: 10_000 },
  'api-user': { limit: 100_000, windowMs: 60_000 },
});

/**
 * A state and a cache redis-server of a test's own (private, so that its FLUSHALL, stopped
 * server or command statistics concern that test alone), sharing their ACL users as in
 * production.
 */
export async function startRedisPair() {
  const state = await startRedisServer('state');
  const cache = await startRedisServer('cache', state.passwords);
  return {
    state,
    cache,
    /** What `service` runs with against `databaseUrl` and this pair (its own password on
     *  it), `overrides` last. */
    environment: (
      service: QuadService,
      databaseUrl: string,
      overrides: Record<string, string> = {},
    ): Record<string, string> => ({
      ...serviceEnvironment(service, databaseUrl, { state: state.port, cache: cache.port }),
      REDIS_PASSWORD: state.passwords[service],
      ...overrides,
    }),
    async dispose() {
      await Promise.all([state.dispose(), cache.dispose()]);
    },
  };
}

/** A fresh migrated database on the shared PostgreSQL server and a Redis pair of its own. */
export async function startPrivateServers() {
  const database = await createTestDatabase();
  await runMigrations(database.url, createLogger('test', 'silent'));
  const pair = await startRedisPair();
  return {
    database,
    state: pair.state,
    cache: pair.cache,
    /** What `service` runs with on these servers, `overrides` last. */
    environment: (service: QuadService, overrides: Record<string, string> = {}) =>
      pair.environment(service, database.url, overrides),
    async dispose() {
      await pair.dispose();
      await database.drop();
    },
  };
}

export type PrivateServers = Awaited<ReturnType<typeof startPrivateServers>>;
export type RedisPair = Awaited<ReturnType<typeof startRedisPair>>;
