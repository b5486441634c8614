import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type RedisStatus, ReplyError } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { RedisBreaker, type RedisBreakerSettings, RedisUnavailableError } from './redis-breaker.js';

// The state machine alone, on an injected clock. No Redis here and none imitated: operations
// are plain async functions that answer or throw, and the "client" is only the status the
// breaker reads before a call. The real Redis, stopped, hung and restarted, is
// test/integration/redis-breaker.test.ts.

const settings: RedisBreakerSettings = {
  consecutiveFailures: 3,
  failureRatio: 0.5,
  windowCalls: 10,
  cooldownMs: 1_000,
};

function setUp(overrides: Partial<RedisBreakerSettings> = {}) {
  let now = 10_000;
  const connection: { status: RedisStatus } = { status: 'ready' };
  const registry = new Registry();
  const logLines: Array<{ level: number; msg: string }> = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => logLines.push(JSON.parse(line) as { level: number; msg: string }) },
  );
  const breaker = new RedisBreaker({
    name: 'cache',
    redis: connection,
    registry,
    logger,
    settings: { ...settings, ...overrides },
    now: () => now,
  });
  let calls = 0;
  const answer = () => breaker.run(async () => ++calls);
  const lose = () =>
    breaker.run(async () => {
      calls++;
      throw new Error('Command timed out');
    });
  return {
    breaker,
    connection,
    registry,
    logLines,
    answer,
    lose,
    calls: () => calls,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

async function metricValue(registry: Registry, name: string): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((value) => value.labels.redis === 'cache')?.value;
}

describe('redis breaker state machine', () => {
  it('opens after consecutive failures, then refuses without calling the operation', async () => {
    const t = setUp();
    for (let i = 0; i < 2; i++) await assert.rejects(t.lose(), /timed out/);
    assert.equal(t.breaker.state, 'closed', 'two failures in a row are not enough');
    await assert.rejects(t.lose(), /timed out/, 'the failing call itself gets its own error');
    assert.equal(t.breaker.state, 'open');

    const callsWhenOpened = t.calls();
    for (let i = 0; i < 10; i++) await assert.rejects(t.answer(), RedisUnavailableError);
    assert.equal(t.calls(), callsWhenOpened, 'no operation ran while open');
    assert.equal(await metricValue(t.registry, 'redis_breaker_state'), 2);
    assert.equal(await metricValue(t.registry, 'redis_breaker_rejections_total'), 10);
  });

  it('a success resets the run of failures', async () => {
    const t = setUp({ windowCalls: 100 });
    for (let round = 0; round < 5; round++) {
      await assert.rejects(t.lose());
      await assert.rejects(t.lose());
      await t.answer();
    }
    assert.equal(t.breaker.state, 'closed');
  });

  it('opens on a failure ratio even when failures never come in a row', async () => {
    const t = setUp();
    // fail, answer, fail, answer...: never 3 in a row; 5 of the last 10 is the 50 % ratio.
    for (let i = 0; i < 4; i++) {
      await assert.rejects(t.lose());
      await t.answer();
    }
    await assert.rejects(t.lose());
    assert.equal(t.breaker.state, 'closed', '5 of 9 calls: the window is not full yet');
    await t.answer();
    assert.equal(t.breaker.state, 'closed', '5 of 10, but the last call answered');
    await assert.rejects(t.lose());
    assert.equal(t.breaker.state, 'open', '5 of the last 10 failed, the 5th just now');
  });

  it('old failures leave the window', async () => {
    const t = setUp();
    for (let i = 0; i < 4; i++) {
      await assert.rejects(t.lose());
      await t.answer();
    }
    for (let i = 0; i < 10; i++) await t.answer();
    for (let i = 0; i < 2; i++) {
      await assert.rejects(t.lose());
      await t.answer();
    }
    assert.equal(t.breaker.state, 'closed', '2 failures in the last 10 calls');
  });

  it('half-open after the cooldown lets exactly one probe through; success closes', async () => {
    const t = setUp();
    for (let i = 0; i < 3; i++) await assert.rejects(t.lose());
    t.advance(999);
    assert.equal(t.breaker.state, 'open');
    t.advance(1);
    assert.equal(t.breaker.state, 'half-open');
    assert.equal(await metricValue(t.registry, 'redis_breaker_state'), 1);

    let answerProbe: (value: string) => void = () => {};
    const probe = t.breaker.run(() => new Promise<string>((resolve) => (answerProbe = resolve)));
    await assert.rejects(t.answer(), /probe in flight/, 'a second call waits for the probe');
    answerProbe('PONG');
    assert.equal(await probe, 'PONG');
    assert.equal(t.breaker.state, 'closed');
    assert.equal(await t.answer(), t.calls(), 'calls run again');
    assert.equal(await metricValue(t.registry, 'redis_breaker_state'), 0);
  });

  it('a failed probe opens it again for another cooldown', async () => {
    const t = setUp();
    for (let i = 0; i < 3; i++) await assert.rejects(t.lose());
    t.advance(1_000);
    await assert.rejects(t.lose(), /timed out/);
    assert.equal(t.breaker.state, 'open');
    t.advance(500);
    await assert.rejects(t.answer(), RedisUnavailableError);
    t.advance(500);
    assert.equal(await t.answer(), t.calls());
    assert.equal(t.breaker.state, 'closed');
  });

  it('a probe that never settles is given up on after a cooldown', async () => {
    const t = setUp();
    for (let i = 0; i < 3; i++) await assert.rejects(t.lose());
    t.advance(1_000);
    const hung = t.breaker.run(() => new Promise<never>(() => {}));
    t.advance(1_000);
    assert.equal(await t.answer(), t.calls(), 'a new probe, answered');
    assert.equal(t.breaker.state, 'closed');
    void hung;
  });

  it('outcomes of calls admitted before a transition change nothing', async () => {
    const t = setUp();
    let failLate: (error: Error) => void = () => {};
    const late = t.breaker.run(() => new Promise<never>((_, reject) => (failLate = reject)));
    for (let i = 0; i < 3; i++) await assert.rejects(t.lose());
    t.advance(1_000);
    await t.answer();
    assert.equal(t.breaker.state, 'closed');
    failLate(new Error('Connection is closed.'));
    await assert.rejects(late);
    assert.equal(t.breaker.state, 'closed', 'a call from before the outage does not count');
    await assert.rejects(t.lose());
    await assert.rejects(t.lose());
    assert.equal(t.breaker.state, 'closed', 'and it did not count toward the next run either');
  });

  it('a client that is not connected fails fast and counts as a failure', async () => {
    const t = setUp();
    t.connection.status = 'reconnecting';
    for (let i = 0; i < 3; i++) await assert.rejects(t.answer(), /connection is reconnecting/);
    assert.equal(t.calls(), 0, 'the operation never ran');
    assert.equal(t.breaker.state, 'open');
    t.advance(1_000);
    await assert.rejects(t.answer(), /connection is reconnecting/, 'the probe fails fast too');
    assert.equal(t.breaker.state, 'open');
    t.connection.status = 'ready';
    t.advance(1_000);
    await t.answer();
    assert.equal(t.breaker.state, 'closed');
    assert.equal(await metricValue(t.registry, 'redis_breaker_rejections_total'), 4);
  });

  it("Redis' own error replies prove it is alive; BUSY and LOADING do not", async () => {
    const t = setUp();
    const reply = (message: string) =>
      t.breaker.run(async () => {
        throw new ReplyError(message);
      });
    for (let i = 0; i < 5; i++) {
      await assert.rejects(reply('WRONGTYPE Operation against a key holding the wrong kind'));
      await assert.rejects(reply('NOPERM this user has no permissions'));
    }
    assert.equal(t.breaker.state, 'closed');
    await assert.rejects(reply('BUSY Redis is busy running a script'));
    await assert.rejects(reply('LOADING Redis is loading the dataset in memory'));
    await assert.rejects(reply('BUSY Redis is busy running a script'));
    assert.equal(t.breaker.state, 'open');
  });

  it('logs one warning when it opens and one line when it closes, probes at debug', async () => {
    const t = setUp();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 3; i++) await assert.rejects(t.lose());
      for (let probe = 0; probe < 3; probe++) {
        t.advance(1_000);
        await assert.rejects(t.lose());
      }
      t.advance(1_000);
      await t.answer();
    }
    const byLevel = (level: number) => t.logLines.filter((line) => line.level === level).length;
    assert.equal(byLevel(40), 3, 'one warning per outage');
    assert.equal(byLevel(30), 3, 'one info per recovery');
    assert.ok(byLevel(20) > 0, 'the probes in between at debug');
  });

  it('refuses a second breaker of the same name on one registry, and bad settings', () => {
    const t = setUp();
    const logger = pino({ level: 'silent' });
    assert.throws(
      () => new RedisBreaker({ name: 'cache', redis: t.connection, registry: t.registry, logger }),
      /already registered/,
    );
    assert.throws(
      () =>
        new RedisBreaker({
          name: 'other',
          redis: t.connection,
          registry: new Registry(),
          logger,
          settings: { ...settings, failureRatio: 0 },
        }),
      RangeError,
    );
  });
});
