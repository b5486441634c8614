/**
 * `npm run bench:cache`: what the cache Redis buys, in one run on the same data. A script that
 * prints a table, not a test: the figures go to docs/performance.md.
 *
 * It starts its own PostgreSQL and two password-protected redis-servers (state and cache; the
 * test harness's, with Quad's ACL users), migrates a database, and builds the api in this
 * process from its real pieces (createApiApp over the process runtime of lib/runtime: its pg
 * pool, ioredis clients, breakers, rate limiter and domain services), twice:
 *
 * - warm: the runtime's domain services as services/api/main.ts asks for them (without the
 *   real-time publisher, which only writes use), the same rate limiter, authenticator and
 *   capabilities;
 * - cache disabled: the same wiring with CacheAside `enabled: false` (lib/cache/cache-aside.ts):
 *   every read, the session check included, goes to PostgreSQL and nothing reads the cache
 *   Redis. That is what a deployment without the cache would do. Rate limiting stays on, on
 *   the state Redis, for both (it is not the cache; and it is part of every real request).
 *
 * Scenarios, each a pair measured under identical conditions (same process, same data, same
 * concurrency, same fixed duration, warmed up first, rounds alternated and rotated so that a
 * noisy neighbour hurts both sides alike). A ratio is taken within each round, where both sides
 * ran seconds apart, and the table shows the median of those; ops/s and latencies are each
 * side's median round.
 *
 * (a) GET /api/v1/conversations/:id with `Authorization: Bearer <token>` (a class group of 30
 *     members), warm cache vs cache disabled, through autocannon. Targets: ≥ 3x requests/s,
 *     and a p99 ≥ 3x lower.
 * (b) UnreadCountsService.countsFor(user, 50 conversations with messages and receipts): warm
 *     (two MGETs) vs the service's own PostgreSQL recompute path (the query it runs on a miss,
 *     here on every call because the cache is disabled). Target: ≥ 10x calls/s.
 * (c) the warm endpoint of (a) vs a bare `express()` route in this process answering the same
 *     JSON body, same autocannon settings. Target: the endpoint keeps ≥ 50% of the bare rate.
 * (d) the warm endpoint of (a) asked conditionally (If-None-Match with its ETag: a 304 without a
 *     body) vs unconditionally (the 200 with its body); and the PostgreSQL queries a 304 costs.
 *     No target: it shows what a client that revalidates saves.
 *
 * Every HTTP response is checked: a non-2xx status, a connection error, a timeout or a body
 * other than the expected one stops the script with exit status 1 (a broken endpoint is fast,
 * and must not be benchmarked as such). A missed target is reported, never asserted: exit 0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import express from 'express';
import type { Registry } from 'prom-client';
import { loadServiceConfig, type ServiceConfig } from '../lib/config/index.js';
import { createOpsEndpoints } from '../lib/http/ops-endpoints.js';
import { createLogger } from '../lib/observability/logger.js';
import { createMetricsRegistry } from '../lib/observability/metrics.js';
import { runMigrations } from '../lib/postgres/migrations.js';
import type { PostgresPool } from '../lib/postgres/postgres-pool.js';
import { isCluster, type RedisClient } from '../lib/redis/redis-client.js';
import { type DomainServices, Runtime, readPackageVersion } from '../lib/runtime/index.js';
import {
  accountsAuthenticator,
  accountsCapability,
} from '../services/api/accounts/accounts.capability.js';
import { API_BASE_PATH, createApiApp } from '../services/api/api-app.js';
import { conversationsCapability } from '../services/api/conversations/conversations.capability.js';
import { createAccount, loginAs } from '../test/harness/api-client.js';
import {
  createDatabase,
  startPostgresServer,
  type TestPostgresServer,
} from '../test/harness/postgres-server.js';
import { startRedisServer, type TestRedisServer } from '../test/harness/redis-server.js';
import { testWebhookSecretKey } from '../test/harness/test-environment.js';
import { median, percentile, table } from './bench-support.js';

/** autocannon's default: enough to keep a 2-core machine busy. */
const CONNECTIONS = 10;
/** In-flight countsFor calls in (b): the same concurrency as the HTTP pairs. */
const UNREAD_CONCURRENCY = 10;
/** Per side per round. Short slices, many rounds: on a shared machine the neighbours' load
 *  changes within seconds, and a ratio is only as good as the two slices it compares being
 *  under the same load (5 s slices gave per-round ratios from 1.8x to 7.6x in one run). */
const MEASURE_SECONDS = 2;
/** Once per contender before anything is measured: JIT, pools and connections settle. */
const WARM_UP_SECONDS = 2;
/** Rounds per pair (odd, for a median); each runs every contender once, in a rotated order. */
const ROUNDS = 11;
/** The conversation read in (a) and (c): one class, a realistic member list. */
const CLASS_SIZE = 30;
/** (b): the unread counts of a conversation list's page: one MGET of the user's 50 entries
 *  and one of the conversations' heads. */
const CONVERSATIONS = 50;
const MESSAGES_PER_CONVERSATION = 100;

interface Measurement {
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

interface Contender {
  name: string;
  measure(seconds: number): Promise<Measurement>;
  /** Operations completed so far, warm-ups included. */
  completed(): number;
}

type Services = Pick<DomainServices, 'accounts' | 'messaging'>;

/** Counts the commands `client` sends (each non-pipelined command is one round trip). */
function countCommands(runtimeClient: RedisClient): () => number {
  if (isCluster(runtimeClient)) throw new Error('the cache benchmark runs on single Redis servers');
  const client = runtimeClient;
  let sent = 0;
  const send = client.sendCommand.bind(client);
  client.sendCommand = (...args: Parameters<typeof client.sendCommand>) => {
    sent++;
    return send(...args);
  };
  return () => sent;
}

/** Counts the queries run through `pool.query` (the services' reads; transactions check a
 *  client out instead, and no read here uses one). */
function countQueries(pool: PostgresPool): () => number {
  let run = 0;
  // pg's query has a dozen overloads; a rest-args wrapper cannot be typed as all of them, so it
  // is installed with Reflect and forwards whatever it gets.
  const query = pool.query;
  Reflect.set(pool, 'query', (...args: unknown[]): unknown => {
    run++;
    return Reflect.apply(query, pool, args);
  });
  return () => run;
}

/** The api's process runtime without the process-wide parts (signal handlers, listening on
 *  the configured port); `cacheEnabled: false` turns every cache read into a query. */
function runtimeFor(config: ServiceConfig, side: string, cacheEnabled: boolean): Runtime {
  return new Runtime({
    name: `bench-${side}`,
    config,
    logger: createLogger('api', config.logLevel).child({ bench: side }),
    metrics: createMetricsRegistry('api'),
    cacheEnabled,
    realtimeEvents: false,
  });
}

/**
 * The api's HTTP surface as services/api/main.ts composes it, over `services`: the same rate
 * limiter (behind the state Redis' breaker), authenticator and capabilities, except those
 * mounted after conversations (polls, search), which this request never reaches, and the
 * real-time publisher, which only writes use.
 */
function apiApp(runtime: Runtime, services: Services) {
  const { logger, metrics } = runtime;
  const rateLimiter = runtime.rateLimiter();
  return createApiApp({
    logger,
    metrics,
    ops: createOpsEndpoints({ service: 'api', registry: metrics, checks: [] }),
    version: readPackageVersion(),
    rateLimiter,
    authenticator: accountsAuthenticator(services.accounts),
    capabilities: [
      accountsCapability(services.accounts, { rateLimiter, metrics }),
      conversationsCapability(services.messaging, { rateLimiter }),
    ],
  });
}

async function listen(app: express.Express): Promise<{ server: Server; baseUrl: string }> {
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return { server, baseUrl: `http://127.0.0.1:${port}` };
}

/** Closes the runtime and waits until every pool connection is closed, not only asked to
 *  close: the PostgreSQL server is stopped right after, and would otherwise cut them off first. */
async function closeRuntime(runtime: Runtime): Promise<void> {
  const pool = runtime.postgres;
  const open = pool.totalCount;
  let closed = 0;
  const allClosed = new Promise<void>((resolve) => {
    if (open === 0) resolve();
    pool.on('remove', () => {
      if (++closed >= open) resolve();
    });
  });
  await runtime.close();
  await allClosed;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function summarize(latencies: number[], seconds: number): Measurement {
  const sorted = Float64Array.from(latencies).sort();
  return {
    opsPerSecond: latencies.length / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

/**
 * One autocannon run against `url`. Latencies are taken from its `response` events (hrtime,
 * fractions of a millisecond) rather than its histogram, which records whole milliseconds.
 * Anything but a 2xx with exactly `expectBody` throws.
 */
function httpContender(
  name: string,
  url: string,
  token: string,
  expectBody: string,
  conditional?: { ifNoneMatch: string },
): Contender {
  let completed = 0;
  return {
    name,
    completed: () => completed,
    measure: (seconds) =>
      new Promise((resolve, reject) => {
        const latencies: number[] = [];
        const instance = autocannon(
          {
            url,
            connections: CONNECTIONS,
            duration: seconds,
            headers: {
              authorization: `Bearer ${token}`,
              ...(conditional ? { 'if-none-match': conditional.ifNoneMatch } : {}),
            },
            // A 304 has no body to compare; its status is checked below.
            ...(conditional ? {} : { expectBody }),
          },
          (error, result) => {
            if (error) {
              reject(error);
              return;
            }
            const notModified = result.statusCodeStats?.['304']?.count ?? 0;
            const expected = conditional ? notModified : result['2xx'];
            const unexpected = conditional ? result['2xx'] + result.non2xx - notModified : 0;
            const failures =
              (conditional ? unexpected : result.non2xx) +
              result.errors +
              result.timeouts +
              result.mismatches;
            if (failures > 0 || expected === 0) {
              reject(
                new Error(
                  `${name}: ${result.non2xx} non-2xx ` +
                    `(${JSON.stringify(result.statusCodeStats)}), ` +
                    `${result.errors} errors, ${result.timeouts} timeouts, ` +
                    `${result.mismatches} unexpected bodies, ${result['2xx']} 2xx`,
                ),
              );
              return;
            }
            resolve(summarize(latencies, result.duration));
          },
        );
        instance.on('response', (_client, _status, _bytes, responseTime) => {
          latencies.push(responseTime);
          completed++;
        });
      }),
  };
}

/** `call` with `concurrency` in flight for `seconds`; every call's latency. */
function callContender(name: string, concurrency: number, call: () => Promise<void>): Contender {
  let completed = 0;
  return {
    name,
    completed: () => completed,
    async measure(seconds) {
      const latencies: number[] = [];
      const started = performance.now();
      const deadline = started + seconds * 1000;
      const lane = async () => {
        while (performance.now() < deadline) {
          const before = performance.now();
          await call();
          latencies.push(performance.now() - before);
          completed++;
        }
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
      return summarize(latencies, (performance.now() - started) / 1000);
    },
  };
}

/** Warms every contender up, then runs ROUNDS rounds, each running every contender once in a
 *  rotated order (none always first or last); every round's measurement of each. */
async function runPair(
  label: string,
  contenders: Contender[],
): Promise<Map<Contender, Measurement[]>> {
  for (const contender of contenders) {
    console.log(`${label}: warming up ${contender.name} (${WARM_UP_SECONDS} s)`);
    await contender.measure(WARM_UP_SECONDS);
  }
  const rounds = new Map<Contender, Measurement[]>(contenders.map((c) => [c, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const contender = contenders[(round + i) % contenders.length];
      if (!contender) continue;
      const result = await contender.measure(MEASURE_SECONDS);
      rounds.get(contender)?.push(result);
      console.log(
        `${label}: round ${round + 1}/${ROUNDS} ${contender.name}: ` +
          `${Math.round(result.opsPerSecond).toLocaleString('en-US')}/s, ` +
          `p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms`,
      );
    }
  }
  return rounds;
}

/** Cache reads answered from Redis per namespace since `before` (cache_requests_total). */
async function cacheReads(metrics: Registry): Promise<Map<string, { hit: number; miss: number }>> {
  const counter = metrics.getSingleMetric('cache_requests_total');
  const reads = new Map<string, { hit: number; miss: number }>();
  if (!counter) return reads;
  for (const { labels, value } of (await counter.get()).values) {
    const cache = String(labels.cache);
    const entry = reads.get(cache) ?? { hit: 0, miss: 0 };
    if (labels.result === 'hit') entry.hit += value;
    else entry.miss += value;
    reads.set(cache, entry);
  }
  return reads;
}

function hitRatios(
  before: Map<string, { hit: number; miss: number }>,
  after: Map<string, { hit: number; miss: number }>,
): string {
  return [...after]
    .map(([cache, { hit, miss }]) => {
      const earlier = before.get(cache) ?? { hit: 0, miss: 0 };
      const hits = hit - earlier.hit;
      const total = hits + miss - earlier.miss;
      return total === 0
        ? undefined
        : `${cache} ${((100 * hits) / total).toFixed(2)}% of ${total.toLocaleString('en-US')}`;
    })
    .filter((line) => line !== undefined)
    .join(', ');
}

/** A class of CLASS_SIZE (the reader first), CONVERSATIONS groups of the reader with messages
 *  from others and receipts part-way, the first of them the whole class. Through the services,
 *  as users would produce it. */
async function seed(databaseUrl: string, services: Services) {
  const classmates = [];
  for (let i = 0; i < CLASS_SIZE; i++) {
    classmates.push(await createAccount(databaseUrl, `bench_student_${i}`));
  }
  const [reader, ...others] = classmates;
  if (!reader || others.length === 0) throw new Error('no class to seed');
  const { conversations, messages, receipts } = services.messaging;
  const ids: string[] = [];
  // The class group first; then one project group per classmate in turn (the reader and one
  // other), each classmate's messages arriving in every group they share with the reader.
  const membersOf = (i: number) => (i === 0 ? others : [others[i % others.length] ?? reader]);
  for (let i = 0; i < CONVERSATIONS; i++) {
    const conversation = await conversations.create(reader.id, {
      kind: 'group',
      title: i === 0 ? 'Class 7B' : `Project group ${i}`,
      memberIds: membersOf(i).map((member) => member.id),
    });
    ids.push(conversation.id);
  }
  // Conversations in parallel (up to the pool's width), messages of one conversation in order.
  await Promise.all(
    ids.map(async (conversationId, i) => {
      const senders = membersOf(i);
      // Unread counts spread from 0 to 99 across the conversations.
      const readUpTo = (i * 37) % MESSAGES_PER_CONVERSATION;
      let lastRead: string | undefined;
      for (let n = 0; n < MESSAGES_PER_CONVERSATION; n++) {
        const sender = senders[n % senders.length] ?? reader;
        const { message } = await messages.send(sender.id, conversationId, {
          body: `message ${n} in conversation ${i}`,
          idempotencyKey: `bench-${i}-${n}`,
        });
        if (n === readUpTo) lastRead = message.id;
      }
      if (lastRead) await receipts.markRead(reader.id, conversationId, lastRead);
    }),
  );
  return { reader, conversationIds: ids };
}

const servers: Array<TestPostgresServer | TestRedisServer> = [];
const closers: Array<() => Promise<void>> = [];
let exitCode = 0;
try {
  console.log('cache benchmark: starting PostgreSQL and the state and cache redis-servers');
  // Settled, not raced: whichever started is stopped again even if the other failed.
  const [postgresStart, stateStart] = await Promise.allSettled([
    startPostgresServer(),
    startRedisServer('state'),
  ]);
  for (const start of [postgresStart, stateStart]) {
    if (start.status === 'fulfilled') servers.push(start.value);
  }
  if (postgresStart.status === 'rejected') throw postgresStart.reason;
  if (stateStart.status === 'rejected') throw stateStart.reason;
  const [postgresServer, stateServer] = [postgresStart.value, stateStart.value];
  const cacheServer = await startRedisServer('cache', stateServer.passwords);
  servers.push(cacheServer);

  const databaseUrl = await createDatabase(postgresServer.url('postgres'), 'quad_bench');
  const config = loadServiceConfig('api', {
    QUAD_PROFILE: 'host',
    REDIS_PORT: String(stateServer.port),
    REDIS_CACHE_PORT: String(cacheServer.port),
    REDIS_USERNAME: 'api',
    REDIS_PASSWORD: stateServer.passwords.api,
    DATABASE_URL: databaseUrl,
    WEBHOOK_SECRET_KEY: testWebhookSecretKey,
    LOG_LEVEL: 'warn',
    // One user hammering one endpoint is exactly what api-user limits; the check itself still
    // runs on every request (one EVALSHA on the state Redis), on both sides alike.
    RATE_LIMITS: JSON.stringify({
      'api-user': { limit: 1_000_000, windowMs: 1_000, burst: 1_000_000 },
    }),
  });
  await runMigrations(databaseUrl, createLogger('api', 'warn'));

  const warmRuntime = runtimeFor(config, 'warm', true);
  // The same wiring with every cache namespace off: each read goes to PostgreSQL.
  const disabledRuntime = runtimeFor(config, 'disabled', false);
  for (const runtime of [warmRuntime, disabledRuntime]) {
    closers.push(() => closeRuntime(runtime));
  }
  await Promise.all(
    [warmRuntime, disabledRuntime].flatMap((runtime) =>
      [runtime.redis.state, runtime.redis.cache].map(
        (client) => new Promise((resolve) => client.once('ready', resolve)),
      ),
    ),
  );
  const warm = warmRuntime.domain();
  const disabled = disabledRuntime.domain();

  const warmApi = await listen(apiApp(warmRuntime, warm));
  const disabledApi = await listen(apiApp(disabledRuntime, disabled));
  closers.unshift(
    () => closeServer(warmApi.server),
    () => closeServer(disabledApi.server),
  );

  console.log(
    `seeding: ${CLASS_SIZE} accounts, ` +
      `${CONVERSATIONS} conversations x ${MESSAGES_PER_CONVERSATION} messages`,
  );
  const { reader, conversationIds } = await seed(databaseUrl, warm);
  const classGroup = conversationIds[0] ?? '';
  const { token } = await loginAs(warmApi.baseUrl, reader.username);
  const path = `${API_BASE_PATH}/conversations/${classGroup}`;

  // The body every side must answer, byte for byte: the real endpoint's, once.
  const first = await fetch(`${warmApi.baseUrl}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const expectBody = await first.text();
  if (first.status !== 200) throw new Error(`GET ${path}: ${first.status} ${expectBody}`);
  const body: unknown = JSON.parse(expectBody);
  const bare = express();
  bare.disable('x-powered-by');
  bare.get(`${API_BASE_PATH}/conversations/:id`, (_req, res) => {
    res.json(body);
  });
  const bareApi = await listen(bare);
  closers.unshift(() => closeServer(bareApi.server));

  const warmEndpoint = httpContender('warm cache', `${warmApi.baseUrl}${path}`, token, expectBody);
  const disabledEndpoint = httpContender(
    'cache disabled',
    `${disabledApi.baseUrl}${path}`,
    token,
    expectBody,
  );
  const bareEndpoint = httpContender(
    'bare express',
    `${bareApi.baseUrl}${path}`,
    token,
    expectBody,
  );

  const etag = first.headers.get('etag') ?? '';
  const conditionalEndpoint = httpContender(
    'warm cache, If-None-Match (304)',
    `${warmApi.baseUrl}${path}`,
    token,
    '',
    { ifNoneMatch: etag },
  );

  // (b): both sides must agree before either is timed.
  const fromRedis = await warm.messaging.unread.countsFor(reader.id, conversationIds);
  const fromPostgres = await disabled.messaging.unread.countsFor(reader.id, conversationIds);
  const sum = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
  if (JSON.stringify([...fromRedis]) !== JSON.stringify([...fromPostgres])) {
    throw new Error('unread counts from Redis and from PostgreSQL differ');
  }
  const unreadRedis = callContender('Redis (warm, two MGETs)', UNREAD_CONCURRENCY, async () => {
    const counts = await warm.messaging.unread.countsFor(reader.id, conversationIds);
    if (counts.size !== CONVERSATIONS) throw new Error('unread counts from Redis: wrong size');
  });
  const unreadPostgres = callContender('PostgreSQL recompute', UNREAD_CONCURRENCY, async () => {
    const counts = await disabled.messaging.unread.countsFor(reader.id, conversationIds);
    if (counts.size !== CONVERSATIONS) throw new Error('unread counts from PostgreSQL: wrong size');
  });

  const [redisInfo, postgresVersion] = await Promise.all([
    warmRuntime.redis.cache.info('server'),
    warmRuntime.postgres.query<{ server_version: string }>('SHOW server_version'),
  ]);
  console.log(
    `\ncache benchmark: redis ${/redis_version:(\S+)/.exec(redisInfo)?.[1] ?? '?'}, ` +
      `postgresql ${postgresVersion.rows[0]?.server_version ?? '?'}, node ${process.version}, ` +
      'on 127.0.0.1; load generator and api share this process, Redis and PostgreSQL the CPUs\n' +
      `(a)/(c): GET ${API_BASE_PATH}/conversations/:id ` +
      `(${CLASS_SIZE} members, ${expectBody.length} bytes), ` +
      `Bearer session, autocannon ${CONNECTIONS} connections; ` +
      `(b): countsFor(1 user, ${CONVERSATIONS} conversations, ${sum(fromRedis)} unread in all), ` +
      `${UNREAD_CONCURRENCY} calls in flight; ${MEASURE_SECONDS} s per side per round, ` +
      `${ROUNDS} rotated rounds after ${WARM_UP_SECONDS} s of warm-up ` +
      '(ratios: median of the rounds)\n' +
      'cache disabled = CacheAside enabled:false: the session check, the membership check, the ' +
      'conversation and the unread counts all read PostgreSQL on every call; rate limiting ' +
      'stays on (state Redis) for both sides\n',
  );

  // Round trips per operation. Each side has its own clients and pool, and within a pair only
  // one contender uses a given side, so a side's commands during the pair over the operations
  // that contender completed (warm-ups included in both) are its round trips per operation.
  const sides = [
    { runtime: warmRuntime, contenders: [warmEndpoint, unreadRedis] },
    { runtime: disabledRuntime, contenders: [disabledEndpoint, unreadPostgres] },
  ];
  const tallies = sides.flatMap(({ runtime, contenders }) => {
    const counters = {
      cacheRedis: countCommands(runtime.redis.cache),
      stateRedis: countCommands(runtime.redis.state),
      postgres: countQueries(runtime.postgres),
    };
    return contenders.map((contender) => ({ contender, counters }));
  });
  const roundTrips = new Map<
    Contender,
    { cacheRedis: number; stateRedis: number; postgres: number; cacheRedisCpuUs?: number }
  >();
  // The cache Redis' own CPU (INFO cpu): within a pair only the warm side uses that server, so
  // its CPU time over the warm contender's operations is what one operation costs Redis, the
  // figure that bounds how many api instances one cache Redis serves.
  const cacheRedisCpuSeconds = async () => {
    const info = await warmRuntime.redis.cache.info('cpu');
    const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    return field('used_cpu_user') + field('used_cpu_sys');
  };
  const counting = async (run: () => Promise<void>) => {
    const before = tallies.map(({ contender, counters }) => ({
      completed: contender.completed(),
      cacheRedis: counters.cacheRedis(),
      stateRedis: counters.stateRedis(),
      postgres: counters.postgres(),
    }));
    const cpuBefore = await cacheRedisCpuSeconds();
    await run();
    const cpuSpent = (await cacheRedisCpuSeconds()) - cpuBefore;
    tallies.forEach(({ contender, counters }, i) => {
      const start = before[i];
      const operations = contender.completed() - (start?.completed ?? 0);
      if (!start || operations === 0) return;
      const usesCache = contender === warmEndpoint || contender === unreadRedis;
      roundTrips.set(contender, {
        cacheRedis: (counters.cacheRedis() - start.cacheRedis) / operations,
        stateRedis: (counters.stateRedis() - start.stateRedis) / operations,
        postgres: (counters.postgres() - start.postgres) / operations,
        ...(usesCache ? { cacheRedisCpuUs: (cpuSpent * 1e6) / operations } : {}),
      });
    });
  };
  const readsBefore = await cacheReads(warmRuntime.metrics);
  let http = new Map<Contender, Measurement[]>();
  let unread = new Map<Contender, Measurement[]>();
  await counting(async () => {
    http = await runPair('(a)+(c)', [warmEndpoint, disabledEndpoint, bareEndpoint]);
  });
  await counting(async () => {
    unread = await runPair('(b)', [unreadRedis, unreadPostgres]);
  });
  const readsAfter = await cacheReads(warmRuntime.metrics);
  const conditionalRounds = await runPair('(d)', [conditionalEndpoint, warmEndpoint]);
  // What a 304 costs PostgreSQL: a counter of its own over sequential conditional requests.
  const queriesOf304 = countQueries(warmRuntime.postgres);
  const conditionalRequests = 200;
  for (let i = 0; i < conditionalRequests; i++) {
    const reply = await fetch(`${warmApi.baseUrl}${path}`, {
      headers: { authorization: `Bearer ${token}`, 'if-none-match': etag },
    });
    await reply.arrayBuffer();
    if (reply.status !== 304) throw new Error(`conditional GET: ${reply.status}`);
  }
  const postgresPer304 = queriesOf304() / conditionalRequests;

  const roundsOf = (contender: Contender) =>
    (contender === conditionalEndpoint ? conditionalRounds.get(contender) : undefined) ??
    http.get(contender) ??
    unread.get(contender) ??
    [];
  const medianOf = (contender: Contender, field: keyof Measurement) =>
    median(roundsOf(contender).map((m) => m[field]));
  /** One ratio per round, both sides measured seconds apart: steadier than a ratio of medians
   *  when the machine's load drifts during the run. */
  const roundRatios = (
    numerator: Contender,
    denominator: Contender,
    field: keyof Measurement,
  ): number[] =>
    roundsOf(numerator).map((m, round) => m[field] / (roundsOf(denominator)[round]?.[field] ?? 0));
  const times = (ratio: number) => `${ratio.toFixed(2)}x`;
  const percent = (ratio: number) => `${(100 * ratio).toFixed(0)}%`;
  const targets = [
    {
      row: warmEndpoint,
      scenario: '(a) conversation metadata',
      ratios: roundRatios(warmEndpoint, disabledEndpoint, 'opsPerSecond'),
      what: 'requests/s, warm / disabled',
      target: 3,
      format: times,
    },
    {
      row: disabledEndpoint,
      scenario: '(a) conversation metadata',
      ratios: roundRatios(disabledEndpoint, warmEndpoint, 'p99Ms'),
      what: 'p99, disabled / warm',
      target: 3,
      format: times,
    },
    {
      row: unreadRedis,
      scenario: '(b) unread counts, 50 conversations',
      ratios: roundRatios(unreadRedis, unreadPostgres, 'opsPerSecond'),
      what: 'calls/s, Redis / PostgreSQL',
      target: 10,
      format: times,
    },
    { row: unreadPostgres, scenario: '(b) unread counts, 50 conversations' },
    {
      row: warmEndpoint,
      scenario: '(c) endpoint vs bare express',
      ratios: roundRatios(warmEndpoint, bareEndpoint, 'opsPerSecond'),
      what: 'requests/s, endpoint / bare',
      target: 0.5,
      format: percent,
    },
    { row: bareEndpoint, scenario: '(c) endpoint vs bare express' },
    {
      row: conditionalEndpoint,
      scenario: '(d) conditional GET',
      ratios: conditionalRounds
        .get(conditionalEndpoint)
        ?.map(
          (m, round) =>
            m.opsPerSecond / (conditionalRounds.get(warmEndpoint)?.[round]?.opsPerSecond ?? 0),
        ),
      what: 'requests/s, 304 / 200',
      format: times,
    },
  ];
  const rows = targets.map((t) => {
    const cells = [
      `${t.scenario}: ${t.row.name}`,
      Math.round(medianOf(t.row, 'opsPerSecond')).toLocaleString('en-US'),
      medianOf(t.row, 'p50Ms').toFixed(2),
      medianOf(t.row, 'p99Ms').toFixed(2),
    ];
    if (!t.ratios || !t.format) return [...cells, '', '', ''];
    const ratio = median(t.ratios);
    if (t.target === undefined) return [...cells, `${t.format(ratio)} ${t.what}`, '-', '-'];
    return [
      ...cells,
      `${t.format(ratio)} ${t.what}`,
      `>= ${t.format(t.target)}`,
      ratio >= t.target ? 'met' : 'MISSED',
    ];
  });
  console.log(
    `\nwarm side's cache hits while measured (ids read, per namespace): ` +
      `${hitRatios(readsBefore, readsAfter)}\n`,
  );
  console.log('round trips per operation (commands sent, queries run), and the cache Redis CPU:');
  for (const [contender, trips] of roundTrips) {
    console.log(
      `  ${contender.name}: cache Redis ${trips.cacheRedis.toFixed(2)}, state Redis ` +
        `${trips.stateRedis.toFixed(2)}, PostgreSQL ${trips.postgres.toFixed(2)}` +
        (trips.cacheRedisCpuUs === undefined
          ? ''
          : `; cache Redis CPU ${trips.cacheRedisCpuUs.toFixed(1)} µs per operation`),
    );
  }
  console.log(
    `  warm cache, If-None-Match (304): PostgreSQL ${postgresPer304.toFixed(2)} ` +
      `(${conditionalRequests} sequential conditional requests)`,
  );
  console.log('');
  console.log(table(['scenario', 'ops/s', 'p50 ms', 'p99 ms', 'ratio', 'target', 'result'], rows));
  console.log('\nratios per round (the table shows their median; ops/s, p50, p99: median round)');
  for (const t of targets) {
    if (!t.ratios || !t.format) continue;
    console.log(`  ${t.scenario}, ${t.what}: ${t.ratios.map(t.format).join(' ')}`);
  }
} catch (error) {
  console.error('cache benchmark failed:', error);
  exitCode = 1;
} finally {
  for (const close of closers) {
    await close().catch((error: unknown) => console.error('clean-up:', error));
  }
  await Promise.allSettled(servers.map((server) => server.dispose()));
}
process.exit(exitCode);
