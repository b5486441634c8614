/**
 * `npm run bench:tracing`: what tracing costs the api, in one run. A script that prints a table,
 * not a test: the figures go to docs/performance.md.
 *
 * It starts its own PostgreSQL and Redis pair (the test harness's), a local OTLP/HTTP sink that
 * accepts every export (so the exporter's work is real, the backend's is not measured), and
 * three real api processes, identical but for tracing:
 *
 * - off: no OTLP endpoint, so the tracing preload loads nothing;
 * - SDK, 0 %: the SDK and instrumentations loaded, nothing sampled (the fixed cost);
 * - 10 %: OTEL_TRACES_SAMPLER=parentbased_traceidratio, OTEL_TRACES_SAMPLER_ARG=0.1;
 * - 100 %: every request traced (http, express, pg, ioredis spans), exported in batches.
 *
 * Each round measures GET /api/v1/conversations/:id (session check, rate limit, cache reads)
 * against each process for a few seconds with autocannon, in a rotated order, so a noisy
 * neighbour hurts every side alike; the table shows each side's median round and the median of
 * the per-round ratios to "off". Non-2xx answers stop the script (exit 1).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { createLogger } from '../lib/observability/logger.js';
import { runMigrations } from '../lib/postgres/migrations.js';
import { callApi, createAccount, loginAs } from '../test/harness/api-client.js';
import { createDatabase, startPostgresServer } from '../test/harness/postgres-server.js';
import { startRedisServer } from '../test/harness/redis-server.js';
import { type ServiceProcess, startService } from '../test/harness/service-process.js';
import { testWebhookSecretKey } from '../test/harness/test-environment.js';
import { median } from './bench-support.js';

const CONNECTIONS = 10;
const MEASURE_SECONDS = 3;
const WARM_UP_SECONDS = 3;
/** Odd, for a median. */
const ROUNDS = 11;

interface Round {
  opsPerSecond: number;
  p99Ms: number;
}

function measure(url: string, token: string, seconds: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections: CONNECTIONS,
        duration: seconds,
        headers: { authorization: `Bearer ${token}` },
      },
      (error, result) => {
        if (error) return reject(error);
        const failures = result.non2xx + result.errors + result.timeouts;
        if (failures > 0 || result['2xx'] === 0) {
          return reject(new Error(`${url}: ${failures} failures, ${result['2xx']} 2xx`));
        }
        resolve({ opsPerSecond: result.requests.average, p99Ms: result.latency.p99 });
      },
    );
  });
}

const postgres = await startPostgresServer();
const state = await startRedisServer('state');
const cache = await startRedisServer('cache', state.passwords);
const services: ServiceProcess[] = [];
let exportedBytes = 0;
const sink = createServer((req, res) => {
  req.on('data', (chunk: Buffer) => {
    exportedBytes += chunk.length;
  });
  req.on('end', () => {
    res.statusCode = 200;
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
});
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

try {
  const databaseUrl = await createDatabase(postgres.url('postgres'), 'quad_tracing_bench');
  await runMigrations(databaseUrl, createLogger('bench', 'silent'));
  const members = [];
  for (let index = 0; index < 30; index += 1) {
    members.push((await createAccount(databaseUrl, `member${index}`)).id);
  }
  await createAccount(databaseUrl, 'teacher', 'teacher');

  const off0 = { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_TRACES_SAMPLER: 'always_off' };
  const sides = [
    { name: 'off', env: {} },
    { name: 'SDK, 0 %', env: off0 },
    // The fixed cost taken apart: the SDK with no instrumentation at all (its context manager
    // and the loader hook), then all instrumentations but one.
    {
      name: '0 %, none',
      env: { ...off0, OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http,express,ioredis,pg,socket.io' },
    },
    { name: '0 %, no http', env: { ...off0, OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http' } },
    { name: '0 %, no express', env: { ...off0, OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'express' } },
    { name: '0 %, no ioredis', env: { ...off0, OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'ioredis' } },
    { name: '0 %, no pg', env: { ...off0, OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pg' } },
    {
      name: '10 %',
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.1',
      },
    },
    {
      name: '100 %',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
    },
  ] as const;
  for (const side of sides) {
    services.push(
      await startService(
        'api',
        {
          QUAD_PROFILE: 'host',
          LOG_LEVEL: 'warn',
          REDIS_PORT: String(state.port),
          REDIS_CACHE_PORT: String(cache.port),
          REDIS_USERNAME: 'api',
          REDIS_PASSWORD: state.passwords.api,
          DATABASE_URL: databaseUrl,
          WEBHOOK_SECRET_KEY: testWebhookSecretKey,
          RATE_LIMITS: JSON.stringify({ 'api-user': { limit: 1_000_000, windowMs: 60_000 } }),
          ...side.env,
        },
        120_000,
      ),
    );
  }
  const first = services[0] as ServiceProcess;
  const { token } = await loginAs(first.baseUrl, 'teacher');
  const group = await callApi(first.baseUrl, 'POST', '/conversations', {
    token,
    body: { kind: 'group', title: 'Class', memberIds: members },
  });
  const path = `/api/v1/conversations/${String(group.body.id)}`;

  for (const service of services)
    await measure(`${service.baseUrl}${path}`, token, WARM_UP_SECONDS);
  const rounds: Round[][] = sides.map(() => []);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (let step = 0; step < sides.length; step += 1) {
      const index = (round + step) % sides.length;
      const service = services[index] as ServiceProcess;
      rounds[index]?.push(await measure(`${service.baseUrl}${path}`, token, MEASURE_SECONDS));
    }
  }

  const off = rounds[0] ?? [];
  console.log(
    `\nGET /api/v1/conversations/:id (30 members), ${CONNECTIONS} connections, ${ROUNDS} rounds × ${MEASURE_SECONDS} s per side\n`,
  );
  console.log('tracing          req/s (median)   p99 ms   ratio to off (median of rounds)');
  sides.forEach((side, index) => {
    const mine = rounds[index] ?? [];
    const ratios = mine.map(
      (r, round) => r.opsPerSecond / (off[round]?.opsPerSecond ?? Number.NaN),
    );
    console.log(
      `${side.name.padEnd(16)} ${median(mine.map((r) => r.opsPerSecond))
        .toFixed(0)
        .padStart(14)}   ${median(mine.map((r) => r.p99Ms))
        .toFixed(1)
        .padStart(6)}   ${median(ratios).toFixed(2)}`,
    );
  });
  console.log(
    `\nspans exported to the sink: ${(exportedBytes / 1024 / 1024).toFixed(1)} MiB of OTLP`,
  );
} finally {
  await Promise.allSettled(services.map((service) => service.stop()));
  sink.close();
  await Promise.allSettled([state.dispose(), cache.dispose(), postgres.dispose()]);
}
