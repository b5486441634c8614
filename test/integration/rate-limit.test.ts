import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { type RateLimitOverrides, resolveRateLimitPolicies } from '../../lib/rate-limit/index.js';
import { rateLimitKey } from '../../lib/rate-limit/rate-limit-key.js';
import { RateLimitCostError, RateLimiter } from '../../lib/rate-limit/rate-limiter.js';
import { sharedServers, uniqueName } from '../harness/test-environment.js';

// Semantics of one limiter against the shared real Redis, connected as the `api` ACL user, so
// every check also proves the ACL grants what the scripts need (EVALSHA/EVAL, TIME, GET/SET,
// ZADD/ZREMRANGEBYSCORE/ZCARD/ZRANGE, PEXPIRE) under the key prefix.
describe('rate limiter against real Redis (ACL user api)', () => {
  const servers = sharedServers();
  const keyPrefix = `quad:${uniqueName('rl')}:`;
  let redis: Redis;
  let admin: Redis;

  const limiterWith = (
    overrides: RateLimitOverrides,
    registry = new Registry(),
    prefix = keyPrefix,
  ) =>
    new RateLimiter({
      redis,
      keyPrefix: prefix,
      policies: resolveRateLimitPolicies(overrides),
      registry,
    });

  before(async () => {
    redis = new Redis({
      port: servers.redis.port,
      username: 'api',
      password: servers.redis.passwords.api,
      commandTimeout: 1_000,
      enableOfflineQueue: false,
    });
    admin = new Redis({ port: servers.redis.port, password: servers.redis.passwords.default });
    await Promise.all([
      new Promise((resolve) => redis.once('ready', resolve)),
      new Promise((resolve) => admin.once('ready', resolve)),
    ]);
  });
  after(() => {
    redis.disconnect();
    admin.disconnect();
  });

  /** Redis's clock, in microseconds: the scripts decide by TIME, so waits and expected values
   *  are computed on the same clock rather than on this process's timers plus a margin. */
  const redisMicros = async () => {
    const [seconds, micros] = await admin.time();
    return Number(seconds) * 1_000_000 + Number(micros);
  };
  /** Runs one check and brackets it on Redis's clock: the script read TIME within [from, to]. */
  const onRedisClock = async <T>(check: () => Promise<T>) => {
    const from = await redisMicros();
    const result = await check();
    return { result, from, to: await redisMicros() };
  };
  /** Waits until Redis's clock reads at least `micros`. */
  const untilRedisTime = async (micros: number) => {
    for (let now = await redisMicros(); now < micros; now = await redisMicros()) {
      await delay(Math.ceil((micros - now) / 1000));
    }
  };

  it('sliding-window log: remaining counts down, the limit is exact, rejection spends nothing', async () => {
    const limiter = limiterWith({ 'login-ip': { limit: 3, windowMs: 60_000 } });
    const decisions = [];
    for (let i = 0; i < 5; i++) decisions.push(await limiter.check('login-ip', '192.0.2.1'));
    assert.deepEqual(
      decisions.map((d) => [d.allowed, d.remaining, d.source]),
      [
        [true, 2, 'redis'],
        [true, 1, 'redis'],
        [true, 0, 'redis'],
        [false, 0, 'redis'],
        [false, 0, 'redis'],
      ],
    );
    const rejected = decisions[3];
    assert.ok(rejected && rejected.retryAfterMs > 59_000 && rejected.retryAfterMs <= 60_000);
    assert.equal(rejected?.resetMs, rejected?.retryAfterMs);
    const key = rateLimitKey(keyPrefix, 'login-ip', 'sliding-window-log', '192.0.2.1');
    assert.equal(await admin.zcard(key), 3, 'rejections add nothing to the log');
  });

  for (const [policy, algorithm, overrides] of [
    ['login-account', 'sliding-window-log', { 'login-account': { limit: 5, windowMs: 60_000 } }],
    ['api-user', 'gcra', { 'api-user': { limit: 5, windowMs: 60_000, burst: 5 } }],
  ] as const) {
    it(`${algorithm}: a cost above what is left is rejected and consumes nothing`, async () => {
      const limiter = limiterWith(overrides);
      const subject = uniqueName('cost');
      const first = await limiter.check(policy, subject, 3);
      assert.deepEqual([first.allowed, first.remaining], [true, 2]);
      const tooMuch = await limiter.check(policy, subject, 3);
      assert.deepEqual([tooMuch.allowed, tooMuch.remaining], [false, 2]);
      assert.ok(tooMuch.retryAfterMs > 0);
      const fits = await limiter.check(policy, subject, 2);
      assert.deepEqual([fits.allowed, fits.remaining], [true, 0], 'the 2 units were still there');
      const none = await limiter.check(policy, subject, 1);
      assert.equal(none.allowed, false);
      // A cost no state could ever admit is the caller's bug, said loudly.
      await assert.rejects(limiter.check(policy, subject, 6), RateLimitCostError);
      await assert.rejects(limiter.check(policy, subject, 0), RateLimitCostError);
      await assert.rejects(limiter.check(policy, subject, 1.5), RateLimitCostError);
    });
  }

  it('sliding-window log: the window slides; a unit comes back exactly when it leaves', async () => {
    const windowUs = 1_000_000;
    const limiter = limiterWith({ 'message-send': { limit: 3, windowMs: windowUs / 1000 } });
    const subject = uniqueName('edge');
    const first = await onRedisClock(() => limiter.check('message-send', subject));
    assert.equal(first.result.allowed, true);
    // A real pause between the first unit and the next two, so they leave the window apart.
    await untilRedisTime(first.to + 400_000);
    const next = await onRedisClock(() => limiter.check('message-send', subject, 2));
    assert.equal(next.result.allowed, true);
    const blocked = await onRedisClock(() => limiter.check('message-send', subject));
    assert.equal(blocked.result.allowed, false);
    const { retryAfterMs } = blocked.result;
    assert.ok(retryAfterMs <= 600, `first unit leaves in ${retryAfterMs} ms`);
    assert.ok(
      retryAfterMs >= Math.ceil((first.from + windowUs - blocked.to) / 1000) &&
        retryAfterMs <= Math.ceil((first.to + windowUs - blocked.from) / 1000),
      `first unit leaves in ${retryAfterMs} ms: one window after its admission`,
    );

    // Wait for the first unit to leave, not for the whole window: Redis admitted it by
    // first.to on its clock, so it is out once that clock reads first.to + window.
    await untilRedisTime(first.to + windowUs);
    const afterEdge = await limiter.check('message-send', subject);
    assert.deepEqual([afterEdge.allowed, afterEdge.remaining], [true, 0]);
    const stillBlocked = await onRedisClock(() => limiter.check('message-send', subject));
    assert.equal(
      stillBlocked.result.allowed,
      false,
      'a sliding window, not a fixed one: 2 units remain',
    );
    // They leave one window after their own admission, in [next.from, next.to], counted from
    // this check, in [stillBlocked.from, stillBlocked.to]; the limiter rounds up to whole ms.
    const earliestUs = next.from + windowUs - stillBlocked.to;
    const latestUs = next.to + windowUs - stillBlocked.from;
    assert.ok(
      stillBlocked.result.retryAfterMs >= Math.ceil(earliestUs / 1000) &&
        stillBlocked.result.retryAfterMs <= Math.ceil(latestUs / 1000),
      `retry after ${stillBlocked.result.retryAfterMs} ms, expected ${earliestUs}..${latestUs} us`,
    );
  });

  it('gcra: units come back one interval at a time, and an idle subject gets its burst', async () => {
    const limiter = limiterWith({ 'api-key': { limit: 10, windowMs: 1_000, burst: 2 } });
    const subject = uniqueName('gcra-edge');
    const decisions = [];
    for (let i = 0; i < 3; i++) decisions.push(await limiter.check('api-key', subject));
    const checkedBy = await redisMicros();
    assert.deepEqual(
      decisions.map((d) => [d.allowed, d.remaining]),
      [
        [true, 1],
        [true, 0],
        [false, 0],
      ],
    );
    const blocked = decisions[2];
    assert.ok(blocked && blocked.retryAfterMs > 0 && blocked.retryAfterMs <= 100);
    // Redis said when, counted from its clock at the rejection, which read TIME no later than
    // checkedBy: waiting from there on Redis's clock needs no margin.
    await untilRedisTime(checkedBy + (blocked?.retryAfterMs ?? 0) * 1000);
    assert.equal((await limiter.check('api-key', subject)).allowed, true, 'one unit back');
    assert.equal((await limiter.check('api-key', subject)).allowed, false, 'only one');

    // The key lives exactly until the budget is full again, then nothing is left behind.
    const key = rateLimitKey(keyPrefix, 'api-key', 'gcra', subject);
    const ttl = await admin.pttl(key);
    assert.ok(ttl > 0 && ttl <= 200, `ttl ${ttl}`);
    // Redis expires a key once its clock, in whole ms, is past the key's expiry time.
    await untilRedisTime((Number(await admin.pexpiretime(key)) + 1) * 1000);
    assert.equal(await admin.exists(key), 0);
    const rested = [
      await limiter.check('api-key', subject),
      await limiter.check('api-key', subject),
    ];
    assert.ok(rested.every((d) => d.allowed));
  });

  it('every key it writes expires within its window', async () => {
    const limiter = limiterWith({});
    const subject = uniqueName('ttl');
    for (const policy of Object.keys(limiter.policies) as Array<keyof typeof limiter.policies>) {
      await limiter.check(policy, subject);
      const { algorithm, windowMs } = limiter.policies[policy];
      const ttl = await admin.pttl(rateLimitKey(keyPrefix, policy, algorithm, subject));
      assert.ok(ttl > 0 && ttl <= windowMs, `${policy}: ttl ${ttl} ms, window ${windowMs} ms`);
    }
  });

  it('hostile subjects are contained: one tagged, bounded, distinct key each', async () => {
    // A prefix of its own, so the keys listed below are exactly this test's.
    const prefix = `${keyPrefix}hostile:`;
    const limiter = limiterWith(
      { 'login-account': { limit: 1, windowMs: 60_000 } },
      new Registry(),
      prefix,
    );
    const hostile = [
      'alice@example.edu',
      'Alice@example.edu',
      'two words',
      '{tag}',
      'a}{b',
      '}{',
      'line\nbreak\r\n',
      '\u0000nul',
      'ünïcødé 🙂',
      '\u202eright-to-left',
      'x'.repeat(100_000),
      `${'y'.repeat(64)}`,
      `${'y'.repeat(65)}`,
      '*',
      '?[a-z]',
      'quad:rl:{login-account:victim}:log',
      'victim',
    ];
    for (const subject of hostile) {
      const first = await limiter.check('login-account', subject);
      assert.equal(
        first.allowed,
        true,
        `first attempt for ${JSON.stringify(subject.slice(0, 20))}`,
      );
      assert.equal((await limiter.check('login-account', subject)).allowed, false);
    }
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', `${prefix}rl:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch.filter((key) => key.includes('{login-account:')));
    } while (cursor !== '0');
    // Distinct subjects (even ones differing only in case) never share a budget...
    assert.equal(new Set(keys).size, hostile.length);
    for (const key of keys) {
      // ...and every key is short, printable, and carries exactly one intact hash tag.
      assert.ok(key.length < 120, key);
      assert.match(key, /^[\x21-\x7e]+$/);
      assert.equal(key.split('{').length, 2, key);
      assert.equal(key.split('}').length, 2, key);
      assert.match(
        key,
        /^quad:[^{}]*rl:\{login-account:(~[A-Za-z0-9_-]{22}|[A-Za-z0-9._:-]{1,64})\}:log$/,
      );
    }
    // The subject that looks like another subject's key did not touch "victim"'s budget.
    assert.ok(keys.includes(rateLimitKey(prefix, 'login-account', 'sliding-window-log', 'victim')));
    await assert.rejects(limiter.check('login-account', ''), RangeError);
  });

  it('measures every decision: counter by policy and result, latency by policy and algorithm', async () => {
    const registry = new Registry();
    const limiter = limiterWith({ 'login-ip': { limit: 1, windowMs: 60_000 } }, registry);
    await limiter.check('login-ip', '203.0.113.9');
    await limiter.check('login-ip', '203.0.113.9');
    await limiter.check('api-user', 'metrics-user');
    const text = await registry.metrics();
    assert.match(text, /rate_limit_decisions_total\{policy="login-ip",result="allowed"\} 1/);
    assert.match(text, /rate_limit_decisions_total\{policy="login-ip",result="rejected"\} 1/);
    assert.match(text, /rate_limit_decisions_total\{policy="api-user",result="allowed"\} 1/);
    assert.match(
      text,
      /rate_limit_check_duration_seconds_count\{policy="login-ip",algorithm="sliding-window-log"\} 2/,
    );
    assert.match(
      text,
      /rate_limit_check_duration_seconds_count\{policy="api-user",algorithm="gcra"\} 1/,
    );
    // A second limiter on the same registry reuses the metrics instead of failing to register.
    const second = limiterWith({}, registry);
    await second.check('api-user', 'metrics-user');
    assert.match(
      await registry.metrics(),
      /rate_limit_decisions_total\{policy="api-user",result="allowed"\} 2/,
    );
  });
});
