/**
 * `npm run bench:send`: what a send costs as the room grows. A script that prints a table, not
 * a test: it never asserts, exits 0 when a target is missed and 1 on a real error; the figures
 * go to docs/performance.md.
 *
 * It starts its own PostgreSQL and the two password-protected redis-servers (the test
 * harness's, Quad's ACL users), migrates a database, seeds in bulk SQL MEMBERS users with a live
 * session each and one group conversation per size in SIZES (the first N users: the two
 * senders are members of every one), and starts a real api process and a real socket gateway
 * (services/*\/main.ts, as the tests start them).
 *
 * Measured, for each size and each way in: sends/s and latency with CONCURRENCY sends in
 * flight for MEASURE_SECONDS, where a send is
 * - HTTP: POST /api/v1/conversations/:id/messages (autocannon-free: fetch, one request per
 *   lane at a time), answered 201;
 * - socket: `message:send` with an ack over SOCKETS socket.io-client connections (websocket),
 *   acked ok. The gateway's per-connection event budget (20/s) is why there are many
 *   connections: each lane cycles over its own.
 * Both run the whole send: membership check, the PostgreSQL transaction (the conversation row
 * lock, the insert, the outbox row), then the caches, the unread bookkeeping and the live event.
 * The members are not connected (fan-out is bench:realtime's) and no worker runs (delivery jobs
 * are bench:worker's). Rounds rotate the order of sizes and alternate the transports, so that a
 * noisy neighbour hurts every row alike; the table shows each row's median round.
 *
 * Target: sends/s into the 1,000-member conversation ≥ 0.8 × into the 2-member one, same run.
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { newSessionToken, sha256 } from '../lib/accounts/secret-token.js';
import { createLogger } from '../lib/observability/logger.js';
import { runMigrations } from '../lib/postgres/migrations.js';
import { API_BASE_PATH } from '../services/api/api-app.js';
import { createDatabase, type TestPostgresServer } from '../test/harness/postgres-server.js';
import type { TestRedisServer } from '../test/harness/redis-server.js';
import { type ServiceProcess, startService } from '../test/harness/service-process.js';
import { startSharedServers } from '../test/harness/shared-servers.js';
import { connectSocket, request } from '../test/harness/socket-client.js';
import { SHARED_SERVERS_VARIABLE, serviceEnvironment } from '../test/harness/test-environment.js';
import { log, percentile, table } from './bench-support.js';

const MEMBERS = 1_000;
const SIZES = [2, 30, 300, 1_000];
/** Sends in flight, per transport. */
const CONCURRENCY = 8;
/** Socket connections of the two senders (each lane cycles over SOCKETS / CONCURRENCY). */
const SOCKETS = 64;
const MEASURE_SECONDS = 3;
const WARM_UP_SECONDS = 2;
/** Odd, for a median. */
const ROUNDS = 5;
const TARGET_RATIO = 0.8;

interface Measurement {
  sendsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** MEMBERS users with a session each, and one group per size of its first N users. */
async function seed(databaseUrl: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const users = await client.query<{ id: string }>(
      `INSERT INTO users (username, email, display_name, role, password_hash)
       SELECT 'bench' || i, 'bench' || i || '@bench.invalid', 'Bench student ' || i, 'student',
              'not-a-password-hash: these accounts never log in'
       FROM generate_series(1, $1::int) AS i ORDER BY i
       RETURNING id`,
      [MEMBERS],
    );
    const userIds = users.rows.map((row) => row.id);
    const conversations = new Map<number, string>();
    for (const size of SIZES) {
      const created = await client.query<{ id: string }>(
        `INSERT INTO conversations (kind, title, created_by) VALUES ('group', $2, $1)
         RETURNING id`,
        [userIds[0], `${size} members`],
      );
      const id = created.rows[0]?.id ?? '';
      await client.query(
        `INSERT INTO conversation_members (conversation_id, user_id, role)
         SELECT $1, user_id, CASE WHEN ordinality = 1 THEN 'owner' ELSE 'member' END
         FROM unnest($2::uuid[]) WITH ORDINALITY AS u (user_id, ordinality)`,
        [id, userIds.slice(0, size)],
      );
      conversations.set(size, id);
    }
    // Only the two senders ever connect; the members' sessions are there as for real users.
    const tokens = userIds.map(() => newSessionToken());
    await client.query(
      `INSERT INTO sessions (token_hash, user_id, expires_at, user_agent)
       SELECT token_hash, user_id, now() + interval '1 day', 'bench:send'
       FROM unnest($1::bytea[], $2::uuid[]) AS s (token_hash, user_id)`,
      [tokens.map(sha256), userIds],
    );
    return { conversations, senderTokens: tokens.slice(0, 2) };
  } finally {
    await client.end();
  }
}

/** `send(lane)` with CONCURRENCY lanes for `seconds`; a failed send stops the script. */
async function measure(seconds: number, send: (lane: number) => Promise<void>) {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, lane) => {
      while (performance.now() < deadline) {
        const before = performance.now();
        await send(lane);
        latencies.push(performance.now() - before);
      }
    }),
  );
  const sorted = Float64Array.from(latencies).sort();
  return {
    sendsPerSecond: latencies.length / ((performance.now() - started) / 1000),
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

function median(values: Measurement[]): Measurement {
  const pick = (key: keyof Measurement) =>
    [...values.map((value) => value[key])].sort((a, b) => a - b)[Math.floor(values.length / 2)] ??
    Number.NaN;
  return { sendsPerSecond: pick('sendsPerSecond'), p50Ms: pick('p50Ms'), p99Ms: pick('p99Ms') };
}

const servers: Array<TestPostgresServer | TestRedisServer> = [];
const services: ServiceProcess[] = [];
const sockets: Socket[] = [];
let exitCode = 0;
try {
  const loadAtStart = loadavg();
  log('send benchmark: starting PostgreSQL and the state and cache redis-servers');
  const { postgres: postgresServer, shared } = await startSharedServers(servers);
  process.env[SHARED_SERVERS_VARIABLE] = JSON.stringify(shared);
  const databaseUrl = await createDatabase(postgresServer.url('postgres'), 'quad_bench_send');
  await runMigrations(databaseUrl, createLogger('bench', 'warn'));
  const { conversations, senderTokens } = await seed(databaseUrl);
  log(`seeded ${MEMBERS} users and conversations of ${SIZES.join(', ')} members`);

  // Two senders at hundreds of sends a second: far above a person's limits, on both sides.
  const limits = JSON.stringify({
    'message-send': { algorithm: 'gcra', limit: 1_000_000, windowMs: 1_000, burst: 1_000_000 },
    'api-user': { limit: 1_000_000, windowMs: 1_000, burst: 1_000_000 },
  });
  const [api, gateway] = await Promise.all([
    startService('api', {
      ...serviceEnvironment('api', databaseUrl),
      LOG_LEVEL: 'warn',
      RATE_LIMITS: limits,
    }),
    startService('socket', {
      ...serviceEnvironment('socket', databaseUrl),
      LOG_LEVEL: 'warn',
      RATE_LIMITS: limits,
    }),
  ]);
  services.push(api, gateway);
  for (let i = 0; i < SOCKETS; i++) {
    sockets.push(await connectSocket(gateway.baseUrl, senderTokens[i % 2] ?? ''));
  }
  log(`api on :${api.port}, gateway on :${gateway.port}, ${SOCKETS} sender sockets`);

  const http = (conversationId: string) => async (lane: number) => {
    const response = await fetch(
      `${api.baseUrl}${API_BASE_PATH}/conversations/${conversationId}/messages`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${senderTokens[lane % 2]}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ body: 'bench', idempotencyKey: randomUUID() }),
      },
    );
    const text = await response.text();
    if (response.status !== 201) throw new Error(`HTTP send: ${response.status} ${text}`);
  };
  const turns = new Array<number>(CONCURRENCY).fill(0);
  const socket = (conversationId: string) => async (lane: number) => {
    const perLane = SOCKETS / CONCURRENCY;
    const turn = turns[lane] ?? 0;
    turns[lane] = turn + 1;
    const connection = sockets[lane * perLane + (turn % perLane)];
    if (!connection) throw new Error('no socket');
    const ack = await request(connection, 'message:send', {
      conversationId,
      body: 'bench',
      idempotencyKey: randomUUID(),
    });
    if (!ack.ok) throw new Error(`socket send: ${JSON.stringify(ack)}`);
  };
  const transports = [
    { name: 'HTTP', send: http },
    { name: 'socket', send: socket },
  ];

  for (const size of SIZES) {
    for (const transport of transports) {
      await measure(WARM_UP_SECONDS, transport.send(conversations.get(size) ?? ''));
    }
  }
  log('warmed up every size and transport');
  const rounds = new Map<string, Measurement[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < SIZES.length; i++) {
      const size = SIZES[(round + i) % SIZES.length] ?? 2;
      const order = round % 2 === 0 ? transports : [...transports].reverse();
      for (const transport of order) {
        const result = await measure(
          MEASURE_SECONDS,
          transport.send(conversations.get(size) ?? ''),
        );
        const key = `${transport.name} ${size}`;
        rounds.set(key, [...(rounds.get(key) ?? []), result]);
        log(
          `round ${round + 1}/${ROUNDS} ${transport.name}, ${size} members: ` +
            `${Math.round(result.sendsPerSecond)}/s, p50 ${result.p50Ms.toFixed(1)} ms, ` +
            `p99 ${result.p99Ms.toFixed(1)} ms`,
        );
      }
    }
  }

  const rows: string[][] = [];
  const verdicts: string[] = [];
  for (const transport of transports) {
    const smallest = median(rounds.get(`${transport.name} ${SIZES[0]}`) ?? []);
    for (const size of SIZES) {
      const result = median(rounds.get(`${transport.name} ${size}`) ?? []);
      rows.push([
        transport.name,
        size.toLocaleString('en-US'),
        Math.round(result.sendsPerSecond).toLocaleString('en-US'),
        result.p50Ms.toFixed(1),
        result.p99Ms.toFixed(1),
        `${(result.sendsPerSecond / smallest.sendsPerSecond).toFixed(2)}x`,
      ]);
    }
    const largest = median(rounds.get(`${transport.name} ${SIZES.at(-1)}`) ?? []);
    const ratio = largest.sendsPerSecond / smallest.sendsPerSecond;
    verdicts.push(
      `${transport.name}: ${SIZES.at(-1)} members vs ${SIZES[0]}: ${ratio.toFixed(2)}x ` +
        `(target ≥ ${TARGET_RATIO}x): ${ratio >= TARGET_RATIO ? 'met' : 'MISSED'}`,
    );
  }
  console.log('');
  console.log(
    `bench:send — ${CONCURRENCY} sends in flight per transport, median of ${ROUNDS} rounds of ` +
      `${MEASURE_SECONDS} s; load average at start ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}, ` +
      `at end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  console.log(table(['transport', 'members', 'sends/s', 'p50 ms', 'p99 ms', 'vs 2 members'], rows));
  for (const verdict of verdicts) console.log(verdict);
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  for (const connection of sockets) connection.close();
  await Promise.allSettled(services.map((service) => service.stop()));
  await Promise.allSettled(servers.map((server) => server.dispose()));
}
process.exit(exitCode);
