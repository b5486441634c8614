import { startPostgresServer, type TestPostgresServer } from './postgres-server.js';
import { startRedisServer, type TestRedisServer } from './redis-server.js';
import type { SharedServers } from './test-environment.js';

/**
 * Starts the PostgreSQL server and the state and cache redis-servers (the cache sharing the
 * state's ACL users, as in production) that each benchmark starts for itself — the
 * single-server set test/run.ts starts too (it also knows the cluster topology) — and describes
 * them for SHARED_SERVERS_VARIABLE. Each server goes into `started` as soon as it is up, so that
 * a start interrupted halfway still stops them all.
 */
export async function startSharedServers(started: {
  push(...servers: Array<TestPostgresServer | TestRedisServer>): unknown;
}) {
  const [postgres, state] = await Promise.all([startPostgresServer(), startRedisServer('state')]);
  started.push(postgres, state);
  const cache = await startRedisServer('cache', state.passwords);
  started.push(cache);
  const shared: SharedServers = {
    postgres: {
      url: postgres.url('postgres'),
      port: postgres.port,
      user: postgres.user,
      password: postgres.password,
    },
    redis: { port: state.port, passwords: state.passwords },
    redisCache: { port: cache.port, passwords: cache.passwords },
  };
  return { postgres, state, cache, shared };
}
