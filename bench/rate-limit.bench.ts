/**
 * `npm run bench:ratelimit`: Quad's two rate-limit algorithms against rate-limiter-flexible's
 * RateLimiterRedis, in one run, against one real redis-server this script starts itself (the
 * test harness's: password-protected, Quad's ACL users; every limiter connects as `api`).
 * A script that prints a table, not a test: the figures go to docs/performance.md.
 *
 * Every contender gets the same policy (100 units per 60 s), the same ioredis client options
 * (lib/redis/redis-client.ts, role `command`), CONCURRENCY checks in flight and CHECKS checks
 * per round, in two workloads: "within the limit" spreads them over 1,000 fresh subjects, so
 * every check is admitted (the write path); "over the limit" spreads them over 100, so three in
 * four are rejected (a client or an attacker hammering). Rounds are interleaved and rotated
 * (A B C, B C A, ...) so a noisy neighbour on a shared machine hurts everyone alike; the table
 * shows the median round.
 *
 * Round trips: every command the client sends is counted client-side (each check here is one
 * non-pipelined command, i.e. one round trip), and cross-checked server-side with INFO
 * commandstats (EVALSHA + EVAL per check). INFO's total_commands_processed would not do: it
 * also counts the commands a script runs inside Redis.
 */
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import {
  RateLimiter,
  type RateLimitPolicyName,
  rateLimitKey,
  resolveRateLimitPolicies,
} from '../lib/rate-limit/index.js';
import { redisOptions } from '../lib/redis/redis-client.js';
import { startRedisServer, type TestRedisServer } from '../test/harness/redis-server.js';
import { median, percentile, table } from './bench-support.js';

const CONCURRENCY = 50;
const CHECKS = 40_000;
const ROUNDS = 5;
/** Enough for the JIT to settle on every contender's path before anything is measured. */
const WARM_UP_CHECKS = 10_000;
const LIMIT = 100;
const WINDOW_MS = 60_000;

const workloads = [
  { name: 'within the limit: all admitted', subjects: 1_000 },
  { name: 'over the limit: 3 in 4 rejected', subjects: 100 },
] as const;

interface Contender {
  name: string;
  algorithm: string;
  /** One check for `subject`; resolves whether admitted or not. */
  check(subject: string): Promise<void>;
  /** The Redis key holding `subject`'s state. */
  keyOf(subject: string): string;
  client: Redis;
  /** Commands this contender's client has sent so far. */
  commandsSent(): number;
}

interface RoundResult {
  checksPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  commandsPerCheck: number;
  scriptCallsPerCheck: number;
}

function connect(server: TestRedisServer, name: string): { client: Redis; sent: () => number } {
  const client = new Redis(redisOptions(server.endpoint('api'), 'command', name));
  client.on('error', (error: Error) => console.error(`${name}: ${error.message}`));
  let sent = 0;
  const send = client.sendCommand.bind(client);
  client.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    sent++;
    return send(...args);
  };
  return { client, sent: () => sent };
}

async function quadContender(
  server: TestRedisServer,
  policy: RateLimitPolicyName,
  name: string,
): Promise<Contender> {
  const { client, sent } = connect(server, name);
  await new Promise((resolve) => client.once('ready', resolve));
  const policies = resolveRateLimitPolicies({
    [policy]: { limit: LIMIT, windowMs: WINDOW_MS, burst: LIMIT },
  });
  // burst only applies to gcra; the log ignores it.
  const limiter = new RateLimiter({
    redis: client,
    keyPrefix: 'quad:',
    policies,
    registry: new Registry(),
  });
  const { algorithm } = policies[policy];
  return {
    name,
    algorithm,
    client,
    commandsSent: sent,
    async check(subject) {
      const decision = await limiter.check(policy, subject);
      if (decision.source !== 'redis') throw new Error(`${name}: decided without Redis`);
    },
    keyOf: (subject) => rateLimitKey('quad:', policy, algorithm, subject),
  };
}

async function flexibleContender(server: TestRedisServer): Promise<Contender> {
  const { client, sent } = connect(server, 'rate-limiter-flexible');
  await new Promise((resolve) => client.once('ready', resolve));
  const limiter = new RateLimiterRedis({
    storeClient: client,
    keyPrefix: 'quad:rlf',
    points: LIMIT,
    duration: WINDOW_MS / 1000,
  });
  return {
    name: 'rate-limiter-flexible RateLimiterRedis',
    algorithm: 'fixed window',
    client,
    commandsSent: sent,
    async check(subject) {
      try {
        await limiter.consume(subject, 1);
      } catch (rejection) {
        // A rejection is an answer (it resolves with RateLimiterRes); anything else is a failure.
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
      }
    },
    keyOf: (subject) => `quad:rlf:${subject}`,
  };
}

async function scriptCalls(admin: Redis): Promise<number> {
  const stats = await admin.info('commandstats');
  const calls = (command: string) =>
    Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  return calls('evalsha') + calls('eval');
}

/** Runs `total` checks with CONCURRENCY in flight, subjects round-robin; latency of each. */
async function drive(contender: Contender, total: number, subjects: number, subjectPrefix: string) {
  const latencies = new Float64Array(total);
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < total; index = next++) {
      const started = performance.now();
      await contender.check(`${subjectPrefix}${index % subjects}`);
      latencies[index] = performance.now() - started;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return { seconds: (performance.now() - started) / 1000, latencies };
}

async function round(
  contender: Contender,
  admin: Redis,
  subjects: number,
  id: string,
): Promise<RoundResult> {
  const sentBefore = contender.commandsSent();
  const scriptsBefore = await scriptCalls(admin);
  const { seconds, latencies } = await drive(contender, CHECKS, subjects, `bench-${id}-`);
  const scriptsAfter = await scriptCalls(admin);
  latencies.sort();
  return {
    checksPerSecond: CHECKS / seconds,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    commandsPerCheck: (contender.commandsSent() - sentBefore) / CHECKS,
    scriptCallsPerCheck: (scriptsAfter - scriptsBefore) / CHECKS,
  };
}

/** MEMORY USAGE of one subject's key after a full window: LIMIT admitted units. */
async function memoryPerKey(contender: Contender, admin: Redis): Promise<number> {
  const subject = 'memory-probe-192.0.2.1';
  for (let i = 0; i < LIMIT; i++) await contender.check(subject);
  // SAMPLES 0: measure every member of a sorted set, not an estimate from 5.
  const bytes = await admin.call('MEMORY', 'USAGE', contender.keyOf(subject), 'SAMPLES', '0');
  return Number(bytes);
}

const server = await startRedisServer('state');
const admin = new Redis({ port: server.port, password: server.passwords.default });
try {
  const info = await admin.info('server');
  const contenders = [
    await quadContender(server, 'api-user', 'Quad gcra'),
    await quadContender(server, 'message-send', 'Quad sliding-window-log'),
    await flexibleContender(server),
  ];
  for (const contender of contenders) {
    await drive(contender, WARM_UP_CHECKS, 1_000, 'warm-up-');
  }

  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  console.log(
    `rate-limit benchmark: redis ${version} and node ${process.version} on 127.0.0.1, ` +
      `${CONCURRENCY} checks in flight, ${CHECKS} checks x ${ROUNDS} rotated rounds per limiter ` +
      `and workload (median round shown), policy ${LIMIT} per ${WINDOW_MS / 1000} s`,
  );
  const verdicts: string[] = [];
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  for (const workload of workloads) {
    const results = new Map<Contender, RoundResult[]>(contenders.map((c) => [c, []]));
    for (let r = 0; r < ROUNDS; r++) {
      // Each round starts with a different contender, so none always runs first or last.
      for (let i = 0; i < contenders.length; i++) {
        const contender = contenders[(r + i) % contenders.length];
        const id = `${workload.subjects}-${r}-${contender?.algorithm}`;
        if (contender)
          results.get(contender)?.push(await round(contender, admin, workload.subjects, id));
      }
    }
    const summary = contenders.map((contender) => {
      const rounds = results.get(contender) ?? [];
      return {
        contender,
        checksPerSecond: median(rounds.map((x) => x.checksPerSecond)),
        p50Ms: median(rounds.map((x) => x.p50Ms)),
        p99Ms: median(rounds.map((x) => x.p99Ms)),
        commandsPerCheck: median(rounds.map((x) => x.commandsPerCheck)),
        scriptCallsPerCheck: median(rounds.map((x) => x.scriptCallsPerCheck)),
      };
    });
    const baselineRate =
      summary.find((s) => s.contender.algorithm === 'fixed window')?.checksPerSecond ?? Number.NaN;
    console.log(`\n${workload.name} (${workload.subjects} subjects)\n`);
    console.log(
      table(
        [
          'limiter',
          'algorithm',
          'checks/s',
          'vs RLF',
          'p50 ms',
          'p99 ms',
          'commands/check',
          'EVALSHA+EVAL/check',
        ],
        summary.map((s) => [
          s.contender.name,
          s.contender.algorithm,
          Math.round(s.checksPerSecond).toLocaleString('en-US'),
          `${(s.checksPerSecond / baselineRate).toFixed(2)}x`,
          s.p50Ms.toFixed(2),
          s.p99Ms.toFixed(2),
          s.commandsPerCheck.toFixed(2),
          s.scriptCallsPerCheck.toFixed(2),
        ]),
      ),
    );
    const gcra = summary.find((s) => s.contender.algorithm === 'gcra');
    if (gcra) {
      const ratio = gcra.checksPerSecond / baselineRate;
      verdicts.push(
        `>= 1.0x RLF throughput ${workload.name}: ${verdict(ratio >= 1)} (${ratio.toFixed(2)}x)`,
        `1 round trip per check ${workload.name}: ${verdict(gcra.commandsPerCheck === 1 && gcra.scriptCallsPerCheck === 1)}`,
      );
    }
  }

  const memory = [];
  for (const contender of contenders) {
    memory.push({ contender, bytes: await memoryPerKey(contender, admin) });
  }
  console.log(
    `\nMEMORY USAGE (SAMPLES 0) of one subject's key after a full window (${LIMIT} units)\n`,
  );
  console.log(
    table(
      ['limiter', 'algorithm', 'bytes/key'],
      memory.map((m) => [m.contender.name, m.contender.algorithm, String(m.bytes)]),
    ),
  );
  const gcraBytes = memory.find((m) => m.contender.algorithm === 'gcra')?.bytes ?? Number.NaN;
  verdicts.push(`<= 200 bytes per key: ${verdict(gcraBytes <= 200)} (${gcraBytes} B)`);
  console.log(`\ntargets for Quad gcra:\n${verdicts.map((v) => `  ${v}`).join('\n')}`);
  for (const contender of contenders) contender.client.disconnect();
} finally {
  admin.disconnect();
  await server.dispose();
}
