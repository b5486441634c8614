import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { RedisBreaker, RedisUnavailableError } from '../../lib/redis/redis-breaker.js';
import {
  closeRedisClient,
  createRedisClient,
  type RedisClient,
} from '../../lib/redis/redis-client.js';
import { commandCalls, connectAdmin } from '../harness/redis-admin.js';
import { startRedisServer, type TestRedisServer } from '../harness/redis-server.js';
import { registryValue } from '../harness/service-metrics.js';
import { waitFor } from '../harness/wait-for.js';

const metricValue = (registry: Registry, name: string) =>
  registryValue(registry, name, { redis: 'cache' });

// The breaker over the production client (lib/redis/redis-client.ts, role `command`, ACL user
// api) and a private redis-server that the tests hang (CLIENT PAUSE), stop and restart. The
// breaker's clock is injected so that the cooldown passes exactly when a test says so; Redis,
// the network and the client are real.
describe('redis breaker against a real redis-server that hangs, dies and comes back', () => {
  let server: TestRedisServer;
  let redis: RedisClient;
  let admin: Redis;
  let breaker: RedisBreaker;
  let clock = 0;
  const registry = new Registry();
  const logLines: Array<{ level: number; msg: string }> = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => logLines.push(JSON.parse(line) as { level: number; msg: string }) },
  );
  const key = 'quad:breaker-test';
  const get = () => breaker.run(() => redis.get(key));

  before(async () => {
    server = await startRedisServer('cache');
    redis = createRedisClient(server.endpoint('api'), 'command', 'breaker-test', logger);
    admin = connectAdmin(server);
    await waitFor('redis ready', async () => redis.status === 'ready' && admin.status === 'ready');
    breaker = new RedisBreaker({ name: 'cache', redis, registry, logger, now: () => clock });
  });
  after(async () => {
    await closeRedisClient(redis);
    admin.disconnect();
    await server.dispose();
  });

  it('answers pass through while Redis is healthy', async () => {
    await redis.set(key, 'value');
    assert.equal(await get(), 'value');
    assert.equal(breaker.state, 'closed');
    assert.equal(await metricValue(registry, 'redis_breaker_state'), 0);
    assert.equal(await metricValue(registry, 'redis_breaker_rejections_total'), 0);
  });

  it('Redis hung: five calls wait out the command timeout, then nothing more reaches Redis', async () => {
    const getsBefore = (await commandCalls(admin, 'get')).calls;
    // Redis stays connected but answers nobody (the admin client included) for 1 s.
    await admin.call('CLIENT', 'PAUSE', '1000', 'ALL');

    const timedOut = await Promise.allSettled(Array.from({ length: 5 }, get));
    for (const outcome of timedOut) {
      assert.equal(outcome.status, 'rejected');
      assert.match(String(outcome.status === 'rejected' && outcome.reason), /timed out/);
    }
    assert.equal(breaker.state, 'open');

    const refused = await Promise.allSettled(Array.from({ length: 100 }, get));
    assert.ok(
      refused.every(
        (outcome) =>
          outcome.status === 'rejected' && outcome.reason instanceof RedisUnavailableError,
      ),
    );
    assert.equal(redis.status, 'ready', 'the connection itself never dropped');

    // PING waits behind the pause like every command: its answer is the pause's end.
    assert.equal(await admin.ping(), 'PONG');
    assert.equal(
      (await commandCalls(admin, 'get')).calls - getsBefore,
      5,
      'Redis processed the 5 calls that opened the breaker and none of the 100 after',
    );
    assert.equal(await metricValue(registry, 'redis_breaker_state'), 2);
    assert.equal(await metricValue(registry, 'redis_breaker_rejections_total'), 100);
  });

  it('after the cooldown one probe goes through; its answer closes the breaker', async () => {
    clock += 1_999;
    await assert.rejects(get(), RedisUnavailableError);
    clock += 1;
    assert.equal(breaker.state, 'half-open');
    const probe = get();
    await assert.rejects(get(), /probe in flight/);
    assert.equal(await probe, 'value');
    assert.equal(breaker.state, 'closed');
    assert.equal(await get(), 'value');
    assert.equal(await metricValue(registry, 'redis_breaker_state'), 0);
  });

  it('Redis stopped: calls fail fast, the breaker opens, and closes by itself once Redis is back', async () => {
    await server.stop();
    await waitFor('the client to notice', async () => redis.status !== 'ready');
    for (let i = 0; i < 5; i++) await assert.rejects(get(), /connection is/);
    assert.equal(breaker.state, 'open');
    await assert.rejects(get(), /circuit open/);

    clock += 2_000;
    await assert.rejects(get(), /connection is/, 'the probe fails fast while Redis is down');
    assert.equal(breaker.state, 'open');

    await server.restart();
    await waitFor('the client to reconnect', async () => redis.status === 'ready');
    clock += 2_000;
    assert.equal(await get(), null, 'a fresh Redis (no persistence) answers: the key is gone');
    assert.equal(breaker.state, 'closed');
    await redis.set(key, 'again');
    assert.equal(await get(), 'again');
  });

  it('logged each outage once and each recovery once', () => {
    const opened = logLines.filter((line) => line.msg.startsWith('redis breaker open'));
    const closed = logLines.filter((line) => line.msg.startsWith('redis breaker closed'));
    assert.equal(opened.length, 2, 'hung once, stopped once');
    assert.equal(closed.length, 2);
  });
});
