import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { RateLimitOverrides, RateLimitPolicyName } from '../../lib/rate-limit/index.js';
import { rateLimitKey } from '../../lib/rate-limit/rate-limit-key.js';
import { sharedServers, uniqueName } from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';
import type { HammerJob, HammerResult } from './rate-limit-hammer.worker.js';

const workerScript = join(import.meta.dirname, 'rate-limit-hammer.worker.ts');
const PROCESSES = 4;

/** The worker processes, started once per suite (a tsx start costs about a second). */
class HammerPool {
  readonly #workers: ChildProcess[];
  readonly #exited: Promise<unknown>;

  constructor(size: number) {
    this.#workers = Array.from({ length: size }, () =>
      spawn(process.execPath, ['--import', 'tsx', workerScript], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    // Any worker dying mid-suite fails the job in progress instead of hanging it.
    this.#exited = Promise.race(
      this.#workers.map(
        (worker) =>
          new Promise((_, reject) =>
            worker.once('exit', (code) => reject(new Error(`hammer worker exited with ${code}`))),
          ),
      ),
    );
    this.#exited.catch(() => {});
  }

  /** Hands one job to each worker, waits until all are ready (the barrier), releases them
   *  together and collects their results. */
  async run(jobs: HammerJob[]): Promise<HammerResult[]> {
    assert.equal(jobs.length, this.#workers.length);
    const next = (worker: ChildProcess, type: string) =>
      Promise.race([
        this.#exited,
        new Promise<HammerResult>((resolve) => {
          const listener = (message: { type?: string }) => {
            if (message.type !== type) return;
            worker.off('message', listener);
            resolve(message as HammerResult);
          };
          worker.on('message', listener);
        }),
      ]) as Promise<HammerResult>;
    const ready = this.#workers.map((worker) => next(worker, 'ready'));
    const results = this.#workers.map((worker) => next(worker, 'result'));
    this.#workers.forEach((worker, index) => {
      worker.send({ type: 'prepare', job: jobs[index] });
    });
    await Promise.all(ready);
    for (const worker of this.#workers) worker.send({ type: 'go' });
    return Promise.all(results);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#workers.map(async (worker) => {
        if (worker.exitCode !== null) return;
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        worker.send({ type: 'exit' });
        await exited;
      }),
    );
  }
}

const sum = (results: HammerResult[], field: 'admitted' | 'rejected' | 'notFromRedis') =>
  results.reduce((total, result) => total + result[field], 0);

describe('rate limits under concurrency: 4 OS processes on one key (real Redis, ACL user api)', () => {
  const servers = sharedServers();
  const keyPrefix = `quad:${uniqueName('rlc')}:`;
  let admin: Redis;
  let pool: HammerPool;
  const hammer = (jobs: HammerJob[]) => pool.run(jobs);

  const job = (
    policy: RateLimitPolicyName,
    subject: string,
    overrides: RateLimitOverrides,
    work: Partial<HammerJob>,
  ): HammerJob => ({
    port: servers.redis.port,
    username: 'api',
    password: servers.redis.passwords.api,
    keyPrefix,
    overrides,
    policy,
    subject,
    concurrency: 8,
    ...work,
  });

  before(async () => {
    admin = new Redis({ port: servers.redis.port, password: servers.redis.passwords.default });
    await admin.ping();
    pool = new HammerPool(PROCESSES);
  });
  after(async () => {
    await pool.close();
    admin.disconnect();
  });

  it('sliding-window log: admits exactly the limit per window, never more, window after window', async () => {
    const limit = 100;
    const windowMs = 2_000;
    const overrides: RateLimitOverrides = { 'message-send': { limit, windowMs } };
    const key = rateLimitKey(keyPrefix, 'message-send', 'sliding-window-log', 'user-log');
    const jobs = Array.from({ length: PROCESSES }, () =>
      job('message-send', 'user-log', overrides, { attempts: 150 }),
    );

    for (const round of [1, 2]) {
      const results = await hammer(jobs);
      const startUs = Math.min(...results.map((r) => r.startUs));
      const endUs = Math.max(...results.map((r) => r.endUs));
      // The claim "exactly the limit" is about one window: the hammering must fit in it.
      assert.ok(endUs - startUs < windowMs * 1000, `round ${round} took ${endUs - startUs} µs`);
      assert.equal(sum(results, 'notFromRedis'), 0);
      assert.equal(sum(results, 'admitted'), limit, `round ${round}: admitted`);
      assert.equal(sum(results, 'rejected'), PROCESSES * 150 - limit);
      assert.equal(await admin.zcard(key), limit);
      assert.ok(results.every((r) => r.maxRetryAfterMs <= windowMs));
      // Every unit leaves the window; the key expires with the last one (nothing leaks).
      const ttl = await admin.pttl(key);
      assert.ok(ttl > 0 && ttl <= windowMs, `ttl ${ttl}`);
      if (round === 1) {
        await waitFor('the window to pass and the key to expire', async () => {
          return (await admin.exists(key)) === 0;
        });
      }
    }
  });

  it('gcra: stays within its documented bound, burst + elapsed / interval', async (t) => {
    const limit = 20;
    const windowMs = 1_000;
    const burst = 5;
    const intervalUs = (windowMs * 1000) / limit;
    const overrides: RateLimitOverrides = { 'api-user': { limit, windowMs, burst } };
    const results = await hammer(
      Array.from({ length: PROCESSES }, () =>
        job('api-user', 'user-gcra', overrides, { durationMs: 1_000 }),
      ),
    );
    const admitted = sum(results, 'admitted');
    const rejected = sum(results, 'rejected');
    assert.equal(sum(results, 'notFromRedis'), 0);
    // Demand far above the rate, so the bucket is drained all along.
    assert.ok(rejected > 20 * admitted, `only ${rejected} rejections for ${admitted} admissions`);

    // Upper bound (the guarantee): every admission happened between the earliest start and the
    // latest end, and GCRA admits at most burst + t / interval units in any interval t.
    const spanUs =
      Math.max(...results.map((r) => r.endUs)) - Math.min(...results.map((r) => r.startUs));
    // (+1 µs: the script rounds the stored arrival time to whole microseconds.)
    const upper = burst + (spanUs + 1) / intervalUs;
    assert.ok(admitted <= upper, `admitted ${admitted} > bound ${upper.toFixed(2)}`);
    // Lower bound (no under-admission): while all four hammered, the rate was delivered.
    const commonUs =
      Math.min(...results.map((r) => r.endUs)) - Math.max(...results.map((r) => r.startUs));
    const lower = burst + commonUs / intervalUs - 2;
    assert.ok(admitted >= lower, `admitted ${admitted} < ${lower.toFixed(2)}`);
    t.diagnostic(
      `gcra: ${admitted} admitted, ${rejected} rejected; bounds [${lower.toFixed(1)}, ${upper.toFixed(1)}]`,
    );
    // A rejected unit-cost request never waits more than one interval for its unit.
    assert.ok(results.every((r) => r.maxRetryAfterMs <= windowMs / limit));
  });

  it('clock skew: processes an hour apart share one timeline (Redis TIME, not Date.now)', async () => {
    const limit = 40;
    const windowMs = 2_000;
    const skews = [0, 3_600_000, -3_600_000, 90_000];
    const logResults = await hammer(
      skews.map((skewMs) =>
        job(
          'message-send',
          'user-skew',
          { 'message-send': { limit, windowMs } },
          {
            attempts: 60,
            skewMs,
          },
        ),
      ),
    );
    assert.deepEqual(
      logResults.map((r) => Math.round(r.observedSkewMs / 1000)),
      skews.map((s) => s / 1000),
      'the workers really ran with skewed clocks',
    );
    // Caller time in the scores would let the +1 h process prune everyone else's entries.
    assert.equal(sum(logResults, 'admitted'), limit);
    assert.ok(logResults.every((r) => r.maxRetryAfterMs <= windowMs && r.maxResetMs <= windowMs));

    const gcraResults = await hammer(
      skews.map((skewMs) =>
        job(
          'api-user',
          'user-skew',
          { 'api-user': { limit, windowMs, burst: limit } },
          {
            attempts: 60,
            skewMs,
          },
        ),
      ),
    );
    // Caller time would push the theoretical arrival time an hour ahead: retry-after in hours.
    const spanUs =
      Math.max(...gcraResults.map((r) => r.endUs)) - Math.min(...gcraResults.map((r) => r.startUs));
    const admitted = sum(gcraResults, 'admitted');
    assert.ok(admitted >= limit && admitted <= limit + (spanUs / 1000) * (limit / windowMs));
    assert.ok(gcraResults.every((r) => r.maxRetryAfterMs <= windowMs));
  });
});
