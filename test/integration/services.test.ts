import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { startRedisPair } from '../harness/private-servers.js';
import { scrapeSeries } from '../harness/service-metrics.js';
import { type QuadService, startService } from '../harness/service-process.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedServers,
} from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

const services: QuadService[] = ['api', 'socket', 'worker'];

/** The Redis servers each service reaches through a breaker: the cache Redis for its cache
 *  stores, the state Redis for the rate limiter of the user-facing services, and the state
 *  Redis through node-redis (`state-om`: live call state, lib/calls) where calls are on. */
const guardedRedis: Record<QuadService, string[]> = {
  api: ['cache', 'state', 'state-om'],
  socket: ['cache', 'state'],
  worker: ['cache', 'state-om'],
};

/** Calls on (a LiveKit configured, though none is reached while no call is live), as the
 *  api and the worker run in compose. */
const livekitEnvironment: Record<QuadService, Record<string, string>> = {
  api: {
    LIVEKIT_URL: 'ws://127.0.0.1:9',
    LIVEKIT_API_KEY: 'APIservices',
    LIVEKIT_API_SECRET: 'services-test-secret-0123456789abcdef',
  },
  socket: {},
  worker: {
    LIVEKIT_URL: 'ws://127.0.0.1:9',
    LIVEKIT_API_KEY: 'APIservices',
    LIVEKIT_API_SECRET: 'services-test-secret-0123456789abcdef',
  },
};

async function readyz(baseUrl: string) {
  const response = await fetch(`${baseUrl}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * `names` started on a pair of Redis servers of their own, so that stopping them disturbs no
 * other test, and each waited for until ready. The caller stops the services and disposes of
 * the pair.
 */
async function startOnPrivateRedis(names: readonly QuadService[], databaseUrl: string) {
  const pair = await startRedisPair();
  const started = await Promise.all(
    names.map((name) => startService(name, pair.environment(name, databaseUrl))),
  );
  try {
    for (const service of started) {
      await waitFor('ready', async () => (await readyz(service.baseUrl)).body.status === 'ready');
    }
  } catch (error) {
    await Promise.all(started.map((service) => service.stop('SIGKILL')));
    await pair.dispose();
    throw error;
  }
  return { state: pair.state, cache: pair.cache, started };
}

describe('service skeletons against real Redis and PostgreSQL', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
  });
  after(async () => {
    await database.drop();
  });

  for (const name of services) {
    it(`${name}: healthz, readyz, metrics, JSON logs and a graceful SIGTERM`, async () => {
      const service = await startService(name, {
        ...serviceEnvironment(name, database.url),
        ...livekitEnvironment[name],
      });
      try {
        const health = await fetch(`${service.baseUrl}/healthz`);
        assert.equal(health.status, 200);
        assert.equal(((await health.json()) as { status: string }).status, 'ok');

        // Redis connects asynchronously after start-up; ready follows within moments.
        const ready = await waitFor('ready', async () => {
          const result = await readyz(service.baseUrl);
          return result.body.status === 'ready' ? result : undefined;
        });
        assert.equal(ready.status, 200);
        const checks = ready.body.checks as Record<string, { ok: boolean }>;
        assert.deepEqual(
          Object.keys(checks)
            .filter((check) => checks[check]?.ok)
            .sort(),
          Object.keys(checks).sort(),
        );
        assert.ok(['postgres', 'migrations', 'redis', 'redis-cache'].every((c) => c in checks));

        const metrics = await fetch(`${service.baseUrl}/metrics`);
        assert.equal(metrics.status, 200);
        const text = await metrics.text();
        assert.match(text, new RegExp(`process_cpu_user_seconds_total\\{service="${name}"\\}`));
        assert.match(text, new RegExp(`nodejs_eventloop_lag_seconds\\{service="${name}"\\}`));
        // One breaker per Redis per process: a second one (another module's own, under another
        // name) would see only its callers' failures and disagree with the first on the state.
        const breakers = await scrapeSeries(service.baseUrl, 'redis_breaker_state');
        assert.deepEqual(
          breakers.map((series) => series.labels.get('redis')).sort(),
          guardedRedis[name],
        );

        const notFound = await fetch(`${service.baseUrl}/no-such-path`);
        assert.equal(notFound.status, 404);
        assert.equal(notFound.headers.get('content-type'), 'application/problem+json');

        const exit = await service.stop('SIGTERM');
        assert.equal(exit, 0, service.otherOutput());
        const messages = service.logs.map((line) => line.msg);
        assert.ok(messages.includes('shutting down'));
        assert.ok(messages.includes('shutdown complete'));
        assert.ok(
          service.logs.every((line) => line.service === name && typeof line.level === 'string'),
        );
        assert.equal(service.otherOutput(), '', 'everything on stdout/stderr is JSON');
        // Secrets never reach the logs.
        const raw = JSON.stringify(service.logs);
        assert.ok(!raw.includes(sharedServers().redis.passwords[name]));
      } finally {
        await service.stop('SIGKILL');
      }
    });
  }

  it('api: answers 503 on /readyz until migrations are applied', async () => {
    const fresh = await createTestDatabase();
    const api = await startService('api', serviceEnvironment('api', fresh.url));
    try {
      const before = await readyz(api.baseUrl);
      assert.equal(before.status, 503);
      assert.equal(before.body.status, 'unavailable');
      assert.match(
        String((before.body.checks as Record<string, { error?: string }>).migrations?.error),
        /pending: 0001_foundation/,
      );
      await runMigrations(fresh.url, createLogger('test', 'silent'));
      await waitFor(
        'ready after migrating',
        async () => (await readyz(api.baseUrl)).status === 200,
      );
    } finally {
      await api.stop('SIGTERM');
      await fresh.drop();
    }
  });

  it('api and worker: degrade (not die) while Redis is down and recover when it returns', async () => {
    const { state, cache, started } = await startOnPrivateRedis(['api', 'worker'], database.url);
    try {
      await Promise.all([state.stop(), cache.stop()]);
      for (const service of started) {
        const degraded = await waitFor('degraded', async () => {
          const result = await readyz(service.baseUrl);
          return result.body.status === 'degraded' ? result : undefined;
        });
        assert.equal(degraded.status, 200, 'degraded still serves traffic');
        assert.equal((await fetch(`${service.baseUrl}/healthz`)).status, 200);
      }
      await Promise.all([state.restart(), cache.restart()]);
      for (const service of started) {
        await waitFor(
          'ready again without a restart',
          async () => (await readyz(service.baseUrl)).body.status === 'ready',
          30_000,
        );
        assert.equal(service.child.exitCode, null);
      }
    } finally {
      await Promise.all(started.map((service) => service.stop('SIGTERM')));
      await Promise.all([state.dispose(), cache.dispose()]);
    }
  });

  it('every service shuts down cleanly and promptly while Redis is down', async () => {
    const { state, cache, started } = await startOnPrivateRedis(services, database.url);
    try {
      await Promise.all([state.stop(), cache.stop()]);
      for (const service of started) {
        await waitFor(
          'degraded',
          async () => (await readyz(service.baseUrl)).body.status === 'degraded',
        );
      }
      // A step that waited on the dead Redis would overrun the drain budget and turn the exit
      // status into 1, with a 'shutdown step failed' log line.
      const exits = await Promise.all(started.map((service) => service.stop('SIGTERM')));
      assert.deepEqual(exits, [0, 0, 0], started.map((s) => s.otherOutput()).join('\n'));
      for (const service of started) {
        assert.ok(!service.logs.some((line) => line.msg === 'shutdown step failed'));
      }
    } finally {
      await Promise.all(started.map((service) => service.stop('SIGKILL')));
      await Promise.all([state.dispose(), cache.dispose()]);
    }
  });
});
