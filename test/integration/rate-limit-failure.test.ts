import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { resolveRateLimitPolicies } from '../../lib/rate-limit/index.js';
import { RateLimiter } from '../../lib/rate-limit/rate-limiter.js';
import {
  closeRedisClient,
  createRedisClient,
  type RedisClient,
} from '../../lib/redis/redis-client.js';
import { commandCalls, connectAdmin } from '../harness/redis-admin.js';
import { startRedisServer, type TestRedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';

// A private redis-server, because these tests stop it, pause it and restart it. The limiter
// uses the production client (lib/redis/redis-client.ts, role `command`, ACL user api).
describe('rate limits when Redis is slow, down, and back (private redis-server)', () => {
  let server: TestRedisServer;
  let redis: RedisClient;
  let admin: Redis;
  let limiter: RateLimiter;
  const registry = new Registry();
  const logLines: Array<{ level: number; msg: string }> = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => logLines.push(JSON.parse(line) as { level: number; msg: string }) },
  );

  before(async () => {
    server = await startRedisServer('state');
    redis = createRedisClient(server.endpoint('api'), 'command', 'rate-limit-test', logger);
    admin = connectAdmin(server);
    await waitFor('redis ready', async () => redis.status === 'ready' && admin.status === 'ready');
    limiter = new RateLimiter({
      redis,
      keyPrefix: 'quad:',
      registry,
      logger,
      policies: resolveRateLimitPolicies({
        'login-ip': { limit: 3, windowMs: 60_000 },
        'api-user': { limit: 2, windowMs: 60_000, burst: 2 },
      }),
    });
  });
  after(async () => {
    await closeRedisClient(redis);
    admin.disconnect();
    await server.dispose();
  });

  it('costs one round trip per check: a single EVALSHA, no script body once loaded', async () => {
    await limiter.check('api-user', 'warm-up');
    await limiter.check('login-ip', '192.0.2.50');
    const [shaBefore, evalBefore] = [
      await commandCalls(admin, 'evalsha'),
      await commandCalls(admin, 'eval'),
    ];
    for (let i = 0; i < 10; i++) {
      await limiter.check('api-user', `user-${i}`);
      await limiter.check('login-ip', `192.0.2.${i}`);
    }
    const [shaAfter, evalAfter] = [
      await commandCalls(admin, 'evalsha'),
      await commandCalls(admin, 'eval'),
    ];
    assert.equal(shaAfter.calls - shaBefore.calls, 20, 'one EVALSHA per check');
    assert.equal(evalAfter.calls - evalBefore.calls, 0, 'no script body sent again');
  });

  it('Redis hung: every check is bounded by the command timeout, then the failure mode decides', async () => {
    // CLIENT PAUSE holds every client's commands: Redis is up but does not answer.
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const started = performance.now();
    const [closed, open] = await Promise.all([
      limiter.check('login-ip', '192.0.2.99'),
      limiter.check('api-user', 'hung-user'),
    ]);
    const elapsed = performance.now() - started;
    assert.equal(closed.source, 'fallback');
    assert.equal(closed.allowed, true);
    assert.equal(open.source, 'unchecked');
    assert.equal(open.allowed, true);
    // policy.redis.commandTimeoutMs is 300 ms; well under the 1.5 s pause.
    assert.ok(elapsed < 1_000, `checks took ${Math.round(elapsed)} ms while Redis was paused`);
    await waitFor(
      'the pause to end',
      async () => (await limiter.check('api-user', 'probe')).source === 'redis',
    );
  });

  it('Redis down: open policies admit unchecked, closed policies still limit (in process)', async () => {
    await server.stop();
    await waitFor('the client to notice', async () => redis.status !== 'ready');

    const open = [];
    for (let i = 0; i < 5; i++) open.push(await limiter.check('api-user', 'outage-user'));
    assert.ok(
      open.every((d) => d.allowed && d.source === 'unchecked'),
      'fail open: all 5 admitted',
    );

    const started = performance.now();
    const closed = [];
    for (let i = 0; i < 5; i++) closed.push(await limiter.check('login-ip', '198.51.100.1'));
    assert.ok(performance.now() - started < 100, 'a dead Redis costs a check nothing');
    assert.deepEqual(
      closed.map((d) => [d.allowed, d.remaining, d.source]),
      [
        [true, 2, 'fallback'],
        [true, 1, 'fallback'],
        [true, 0, 'fallback'],
        [false, 0, 'fallback'],
        [false, 0, 'fallback'],
      ],
      'fail closed: the same limit of 3, enforced in this process, never "unlimited"',
    );
    assert.ok((closed[3]?.retryAfterMs ?? 0) > 59_000);
    // ...and never "everyone refused": another address has its own budget.
    assert.equal((await limiter.check('login-ip', '198.51.100.2')).allowed, true);

    const metrics = await registry.metrics();
    assert.match(
      metrics,
      /rate_limit_fallback_decisions_total\{policy="api-user",failure_mode="open"\} [1-9]/,
    );
    assert.match(
      metrics,
      /rate_limit_fallback_decisions_total\{policy="login-ip",failure_mode="closed"\} [1-9]/,
    );
    assert.match(metrics, /rate_limit_decisions_total\{policy="login-ip",result="rejected"\} 2/);
  });

  it('Redis back: decisions shared again, scripts resent after NOSCRIPT, each change logged once', async () => {
    await server.restart();
    await waitFor('the client to reconnect', async () => redis.status === 'ready');
    await waitFor('the admin client to reconnect', async () => admin.status === 'ready');
    // ioredis sends a script's body (EVAL) the first time it runs it on a connection, EVALSHA
    // after that; this is a new connection to a Redis that has no scripts anyway.
    const first = await limiter.check('login-ip', '198.51.100.1');
    assert.deepEqual([first.allowed, first.remaining, first.source], [true, 2, 'redis']);
    for (let i = 0; i < 4; i++) await limiter.check('api-user', 'after-restart');
    assert.deepEqual(await commandCalls(admin, 'eval'), { calls: 2, failed: 0 });
    assert.deepEqual(await commandCalls(admin, 'evalsha'), { calls: 3, failed: 0 });

    // Redis forgetting a script under a live connection: EVALSHA answers NOSCRIPT and ioredis
    // resends it once as EVAL; the caller sees an ordinary decision.
    await admin.script('FLUSH');
    assert.equal((await limiter.check('api-user', 'after-flush')).source, 'redis');
    assert.deepEqual(await commandCalls(admin, 'evalsha'), { calls: 4, failed: 1 });
    assert.deepEqual(await commandCalls(admin, 'eval'), { calls: 3, failed: 0 });

    const warnings = logLines.filter((line) => line.msg.startsWith('rate limits degraded'));
    const recoveries = logLines.filter((line) => line.msg.startsWith('rate limits shared'));
    // Paused once and stopped once: two outages, each logged once, not once per request.
    assert.equal(warnings.length, 2);
    assert.equal(recoveries.length, 2);
  });
});
