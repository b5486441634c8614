/**
 * One of the OS processes that rate-limit-concurrency.test.ts starts to hammer one rate-limit
 * key at the same time as the others. Not a test file itself (no `.test.ts`): the test spawns
 * it with `node --import tsx` once per suite and talks to it over the IPC channel, once per job:
 *
 *   test -> worker   { type: 'prepare', job }     connect if needed, build the limiter
 *   worker -> test   { type: 'ready' }
 *   test -> worker   { type: 'go' }               the barrier: every worker is ready
 *   worker -> test   { type: 'result', ... }
 *   test -> worker   { type: 'exit' }
 *
 * `skewMs` shifts this process's wall clock (Date.now) for the job, to prove that decisions use
 * Redis' clock only.
 */
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import {
  type RateLimitOverrides,
  type RateLimitPolicyName,
  resolveRateLimitPolicies,
} from '../../lib/rate-limit/index.js';
import { RateLimiter } from '../../lib/rate-limit/rate-limiter.js';

export interface HammerJob {
  port: number;
  username: string;
  password: string;
  keyPrefix: string;
  overrides: RateLimitOverrides;
  policy: RateLimitPolicyName;
  subject: string;
  /** Stop after this many checks in total... */
  attempts?: number;
  /** ...or after this long (monotonic clock). */
  durationMs?: number;
  /** Checks in flight at once in this process. */
  concurrency: number;
  skewMs?: number;
}

export interface HammerResult {
  type: 'result';
  admitted: number;
  rejected: number;
  /** Decisions not taken by Redis (must be 0: Redis is up throughout). */
  notFromRedis: number;
  /** Redis TIME in microseconds just before the first and just after the last check. */
  startUs: number;
  endUs: number;
  maxRetryAfterMs: number;
  maxResetMs: number;
  /** Date.now() - real time as this process saw it, to show the skew was in force. */
  observedSkewMs: number;
}

const realNow = Date.now;

function send(message: object): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('rate-limit-hammer.worker.ts must be started with an IPC channel'));
      return;
    }
    process.send(message, (error: Error | null) => (error ? reject(error) : resolve()));
  });
}

async function redisTimeUs(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1_000_000 + Number(micros);
}

let redis: Redis | undefined;
async function connect(job: HammerJob): Promise<Redis> {
  if (redis) return redis;
  const client = new Redis({
    host: '127.0.0.1',
    port: job.port,
    username: job.username,
    password: job.password,
    commandTimeout: 2_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  });
  client.on('error', () => {});
  await new Promise((resolve) => client.once('ready', resolve));
  redis = client;
  return client;
}

async function run(job: HammerJob, go: Promise<void>): Promise<HammerResult> {
  const client = await connect(job);
  const limiter = new RateLimiter({
    redis: client,
    keyPrefix: job.keyPrefix,
    policies: resolveRateLimitPolicies(job.overrides),
    registry: new Registry(),
  });
  const skew = job.skewMs ?? 0;
  Date.now = () => realNow() + skew;
  await send({ type: 'ready' });
  await go;

  const result: HammerResult = {
    type: 'result',
    admitted: 0,
    rejected: 0,
    notFromRedis: 0,
    startUs: await redisTimeUs(client),
    endUs: 0,
    maxRetryAfterMs: 0,
    maxResetMs: 0,
    observedSkewMs: Date.now() - realNow(),
  };
  const deadline = performance.now() + (job.durationMs ?? Number.POSITIVE_INFINITY);
  let remainingAttempts = job.attempts ?? Number.POSITIVE_INFINITY;
  const lane = async () => {
    while (remainingAttempts > 0 && performance.now() < deadline) {
      remainingAttempts--;
      const decision = await limiter.check(job.policy, job.subject);
      if (decision.allowed) result.admitted++;
      else result.rejected++;
      if (decision.source !== 'redis') result.notFromRedis++;
      result.maxRetryAfterMs = Math.max(result.maxRetryAfterMs, decision.retryAfterMs);
      result.maxResetMs = Math.max(result.maxResetMs, decision.resetMs);
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, lane));
  result.endUs = await redisTimeUs(client);
  Date.now = realNow;
  return result;
}

let releaseBarrier: () => void = () => {};
process.on('message', (message: { type?: string; job?: HammerJob }) => {
  if (message.type === 'prepare' && message.job) {
    const go = new Promise<void>((resolve) => {
      releaseBarrier = resolve;
    });
    run(message.job, go).then(send, (error: unknown) => {
      process.stderr.write(`hammer worker failed: ${String(error)}\n`);
      process.exit(1);
    });
  } else if (message.type === 'go') {
    releaseBarrier();
  } else if (message.type === 'exit') {
    redis?.disconnect();
    process.exit(0);
  }
});
