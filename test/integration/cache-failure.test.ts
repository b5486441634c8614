import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { CacheAside, type CacheNamespace } from '../../lib/cache/cache-aside.js';
import { RedisBreaker } from '../../lib/redis/redis-breaker.js';
import {
  closeRedisClient,
  createRedisClient,
  type RedisClient,
} from '../../lib/redis/redis-client.js';
import { commandCalls, connectAdmin } from '../harness/redis-admin.js';
import { startRedisServer, type TestRedisServer } from '../harness/redis-server.js';
import { registryValue } from '../harness/service-metrics.js';
import { waitFor } from '../harness/wait-for.js';

/** 0 for a counter these tests have not made count yet. */
const metricValue = async (registry: Registry, name: string, labels: Record<string, string>) =>
  (await registryValue(registry, name, labels)) ?? 0;

interface Conversation {
  id: string;
  title: string;
}

// The cache as a service wires it (production client, breaker over the same client, one
// registry), over a private cache redis-server that the tests hang, stop and restart. The
// breaker's clock is injected so its cooldown ends when a test says, not after a sleep.
describe('cache-aside when the cache Redis hangs, dies and comes back (private redis-server)', () => {
  let server: TestRedisServer;
  let redis: RedisClient;
  let admin: Redis;
  let breaker: RedisBreaker;
  let conversations: CacheNamespace<Conversation>;
  let clock = 0;
  const registry = new Registry();
  const logger = pino({ level: 'silent' });
  let loads = 0;
  /** The "PostgreSQL" of these tests: counts every time the cache had to ask it. */
  const load = (id: string) => async () => {
    loads++;
    return { id, title: `conversation ${id}` };
  };
  const errors = () => metricValue(registry, 'cache_errors_total', { cache: 'conversation' });
  const breakerState = () => metricValue(registry, 'redis_breaker_state', { redis: 'cache' });

  before(async () => {
    server = await startRedisServer('cache');
    redis = createRedisClient(server.endpoint('api'), 'command', 'cache-failure-test', logger);
    admin = connectAdmin(server);
    await waitFor('redis ready', async () => redis.status === 'ready' && admin.status === 'ready');
    breaker = new RedisBreaker({
      name: 'cache',
      redis,
      registry,
      logger,
      settings: { consecutiveFailures: 3, failureRatio: 0.5, windowCalls: 20, cooldownMs: 1_000 },
      now: () => clock,
    });
    const cache = new CacheAside({ redis, keyPrefix: 'quad:', registry, logger, breaker });
    conversations = cache.namespace<Conversation>('conversation');
  });
  after(async () => {
    await closeRedisClient(redis);
    admin.disconnect();
    await server.dispose();
  });

  it('warm: reads are hits', async () => {
    await conversations.get('c-1', load('c-1'));
    loads = 0;
    assert.equal((await conversations.get('c-1', load('c-1')))?.title, 'conversation c-1');
    assert.equal(loads, 0);
  });

  it('Redis hung: three reads wait out the timeout, then every read skips Redis entirely', async () => {
    const getsBefore = (await commandCalls(admin, 'get')).calls;
    await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');
    loads = 0;
    const first = await Promise.all(
      ['h-1', 'h-2', 'h-3'].map((id) => conversations.get(id, load(id))),
    );
    assert.deepEqual(
      first.map((row) => row?.id),
      ['h-1', 'h-2', 'h-3'],
      'answered by the loader after the command timeout',
    );
    assert.equal(breaker.state, 'open');
    for (let i = 0; i < 30; i++) {
      assert.equal((await conversations.get('c-1', load('c-1')))?.title, 'conversation c-1');
    }
    assert.equal(loads, 33, 'every read answered, by the loader');
    assert.equal(await errors(), 33);

    assert.equal(await admin.ping(), 'PONG', 'the pause is over');
    assert.equal(
      (await commandCalls(admin, 'get')).calls - getsBefore,
      3,
      'only the three reads that opened the breaker ever reached Redis',
    );
  });

  it('after the cooldown the next read probes Redis, and the cache is used again', async () => {
    clock += 1_000;
    loads = 0;
    assert.equal((await conversations.get('c-1', load('c-1')))?.title, 'conversation c-1');
    assert.equal(loads, 0, 'the probe was a hit: the entry survived the pause');
    assert.equal(breaker.state, 'closed');
    assert.equal(await breakerState(), 0);
  });

  it('Redis stopped: every read still answers, errors are counted, the breaker opens', async () => {
    await server.stop();
    await waitFor('the client to notice', async () => redis.status !== 'ready');
    const errorsBefore = await errors();
    loads = 0;
    for (let i = 0; i < 20; i++) {
      assert.equal((await conversations.get('c-1', load('c-1')))?.title, 'conversation c-1');
    }
    const many = await conversations.getMany(['m-1', 'm-2'], async (ids) => {
      loads++;
      return new Map(ids.map((id) => [id, { id, title: id }]));
    });
    assert.deepEqual([...many.keys()], ['m-1', 'm-2']);
    assert.equal(loads, 21);
    // Writes after a commit must never fail the request.
    await conversations.set('c-1', { id: 'c-1', title: 'renamed' });
    await conversations.invalidate('c-1', 'c-2');
    assert.equal(await errors(), errorsBefore + 21 + 1 + 2);
    assert.equal(breaker.state, 'open');
    assert.equal(await breakerState(), 2);
    assert.ok((await metricValue(registry, 'redis_breaker_rejections_total', {})) >= 24);
  });

  it('Redis back: the same objects use the cache again, nothing recreated', async () => {
    await server.restart();
    await waitFor('the client to reconnect', async () => redis.status === 'ready');
    clock += 1_000;
    loads = 0;
    // A restarted cache Redis is empty (no persistence): one miss, then hits.
    assert.equal((await conversations.get('c-1', load('c-1')))?.title, 'conversation c-1');
    assert.equal((await conversations.get('c-1', load('c-1')))?.title, 'conversation c-1');
    assert.equal(loads, 1);
    assert.equal(breaker.state, 'closed');
    assert.ok(await admin.exists('quad:cache:conversation:c-1'));
  });
});
