import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { loadServiceConfig } from '../../lib/config/index.js';
import { createLogger } from '../../lib/observability/logger.js';
import type { RedisClient } from '../../lib/redis/redis-client.js';
import { Runtime } from '../../lib/runtime/index.js';
import { createTestDatabase, serviceEnvironment } from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// The process runtime against the shared PostgreSQL and Redis servers: each part is built
// once however often it is asked for, and close() closes what was opened, newest first, once.
describe('process runtime', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database.drop();
  });

  const open = (name: string) =>
    new Runtime({
      name,
      config: loadServiceConfig('worker', serviceEnvironment('worker', database.url)),
      logger: createLogger('test', 'silent'),
      metrics: new Registry(),
    });

  it('builds each part once, with one breaker per Redis whoever asks', async () => {
    const runtime = open('runtime-test-once');
    try {
      const { recentMessages } = runtime.cacheStores();
      assert.equal(runtime.domain(), runtime.domain());
      assert.equal(runtime.cacheStores().recentMessages, recentMessages);
      assert.equal(runtime.publisher(), runtime.publisher());
      assert.equal(runtime.presence(), runtime.presence());
      assert.equal(runtime.rateLimiter(), runtime.rateLimiter());
      assert.equal(runtime.breaker('cache'), runtime.breaker('cache'));
      assert.equal(runtime.redisConnection('queue'), runtime.redisConnection('queue'));
      const breakers = await runtime.metrics.getSingleMetric('redis_breaker_state')?.get();
      assert.deepEqual(breakers?.values.map((series) => series.labels.redis).sort(), [
        'cache',
        'state',
      ]);
    } finally {
      await runtime.close();
    }
  });

  it('closes what it opened, newest first, once', async () => {
    const runtime = open('runtime-test-close');
    const closed: string[] = [];
    const watchRedis = (name: string, client: RedisClient) => {
      const quit = client.quit.bind(client);
      Object.assign(client, {
        quit: () => {
          closed.push(name);
          return quit();
        },
      });
      return client;
    };
    // Opened in an order of the test's choosing, so the closing order proves it follows it.
    const cache = watchRedis('cache', runtime.redis.cache);
    const postgres = runtime.postgres;
    const end = postgres.end.bind(postgres);
    Object.assign(postgres, {
      end: () => {
        closed.push('postgres');
        return end();
      },
    });
    const state = watchRedis('state', runtime.redis.state);
    const queue = watchRedis('queue', runtime.redisConnection('queue'));
    await postgres.query('SELECT 1');
    await waitFor('redis connections ready', async () =>
      [cache, state, queue].every((client) => client.status === 'ready'),
    );

    const closing = runtime.close();
    assert.equal(runtime.close(), closing, 'a second call waits for the same closing');
    await closing;
    await runtime.close();
    assert.deepEqual(closed, ['queue', 'state', 'postgres', 'cache']);
    assert.ok(postgres.ended);
    await waitFor('redis connections ended', async () =>
      [cache, state, queue].every((client) => client.status === 'end'),
    );
  });
});
