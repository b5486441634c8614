/**
 * `npm run bench:realtime`: the real-time gateway's broadcast fan-out, latency and memory per
 * connection. A script that prints tables, not a test: it never asserts, exits 0 when a target is
 * missed and 1 on a real error; the figures go to docs/performance.md.
 *
 * It starts its own PostgreSQL and the two password-protected redis-servers (the test
 * harness's, Quad's ACL users), migrates a database, and seeds in bulk SQL MEMBERS users, one
 * group conversation of all of them and one live session each (tokens as
 * lib/accounts/secret-token.ts makes them, stored as their SHA-256, as SessionService does).
 *
 * Scenario "2 gateways + redis adapter": two real gateway processes (services/socket/main.ts,
 * started as the tests start them) on one state Redis. CLIENT_PROCESSES forked client
 * processes (bench/realtime-clients.ts) hold the MEMBERS socket.io-client connections
 * (websocket transport, session token in the handshake), half on each gateway, every one joined
 * to the conversation with `conversation:join`. Messages are published by this process through
 * lib/realtime/publisher.ts (RealtimePublisher.messageCreated, the Socket.IO Redis emitter)
 * with a synthetic message: the path every real message takes after its PostgreSQL commit,
 * without the api and PostgreSQL in the loop, so what is measured is the gateway's fan-out.
 *
 * Scenario "2 gateways + redis adapter, clients take message:batch": the same two gateways and
 * publisher, a second conversation of the same MEMBERS, held by CLIENT_PROCESSES more client
 * processes whose handshake asks for `message:batch` (services/socket/broadcast-coalescing.ts:
 * the events of one room that reach a gateway within one turn go in one frame); printed side by
 * side with the first scenario, phase by phase.
 *
 * Scenario "2 gateways, end to end via the api": the same gateways and connections, messages
 * sent for real (POST /api/v1/conversations/:id/messages to an api process, committed to
 * PostgreSQL, then published by the api's RealtimePublisher) at END_TO_END_RATES; the latency
 * of these runs from the POST (the body carries the sender's Date.now()).
 *
 * Scenario "1 server, in-memory adapter" (the baseline): bench/realtime-baseline-server.ts, one
 * Socket.IO server in its own process with the gateway's handshake and join code but the
 * default in-memory adapter, publishing with io.to(room).emit in that process; the same
 * client processes and rates, and a connection per member of its own.
 *
 * Scenario "2 Centrifugo nodes + redis engine" (the peer, when `make tools` has built
 * tools/bin/centrifugo): two Centrifugo processes on the same state Redis, CLIENT_PROCESSES more
 * client processes (bench/realtime-centrifugo-clients.ts) holding a centrifuge-js connection per
 * member (websocket, an HS256 connection JWT each), half on each node, every one subscribed to
 * the conversation's channel; published through node A's HTTP API (POST /api/publish, one
 * request per message, not awaited: a fixed rate) with the same synthetic message and emittedAt.
 * Each phase prints each server process's CPU (over publish and drain) and RSS, and the Quad row
 * its deliveries/s and p99 against Centrifugo's at the same rate.
 *
 * All servers run for the whole bench and the client processes hold both sets of connections
 * (2 x MEMBERS, the idle set costing nothing): each phase runs on both scenarios back to back,
 * the first of them alternating from phase to phase, so that the load of whatever else shares
 * the machine drifts over both alike.
 *
 * What "500 messages/s fan-out to 1,000 members" means here: 500 messages a second published
 * to ONE conversation of 1,000 members, every one of which has a connection in the room, so
 * 500,000 deliveries (socket writes, and client-side reads) a second. Each scenario runs
 * - a warm-up (not reported), then phases at the SUSTAINED_RATES, each for SUSTAINED_MS:
 *   latency while the system keeps up, and the rate where it stops keeping up;
 * - the target phase at TARGET_RATE messages/s for TARGET_MS: what is achieved (messages and
 *   deliveries per second, latency including the queueing of an overload) is printed as is,
 *   and its deliveries/s is the throughput compared between the two scenarios.
 * Sockets dropped during a phase (by reason) are printed: under overload Socket.IO's heartbeat
 * can time out behind queued frames.
 * Latency is the receiving client's Date.now() minus the event's `emittedAt` (the publisher's
 * Date.now(): same host, same clock, 1 ms resolution), over every delivery; lost deliveries
 * (expected minus received once delivery has drained) are printed, loudly when not 0.
 *
 * Memory per idle connection: RSS (/proc/<pid>/status) and V8 heap used of each server process
 * with WARM_CONNECTIONS authenticated connections (so lazily loaded code is already there), then
 * with all of its share, divided by the difference; connections are idle (not yet joined).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Registry } from 'prom-client';
import { newSessionToken, sha256 } from '../lib/accounts/secret-token.js';
import { loadServiceConfig } from '../lib/config/index.js';
import { createLogger } from '../lib/observability/logger.js';
import { runMigrations } from '../lib/postgres/migrations.js';
import { RealtimePublisher } from '../lib/realtime/index.js';
import { closeRedisClient, createRedisClient } from '../lib/redis/redis-client.js';
import { callApi } from '../test/harness/api-client.js';
import { freePort } from '../test/harness/free-port.js';
import { createDatabase, type TestPostgresServer } from '../test/harness/postgres-server.js';
import type { TestRedisServer } from '../test/harness/redis-server.js';
import { scrapeMetric } from '../test/harness/service-metrics.js';
import { type ServiceProcess, startService } from '../test/harness/service-process.js';
import { startSharedServers } from '../test/harness/shared-servers.js';
import { SHARED_SERVERS_VARIABLE, serviceEnvironment } from '../test/harness/test-environment.js';
import { waitFor } from '../test/harness/wait-for.js';
import { log, table } from './bench-support.js';
import {
  BATCHED_CLIENTS_VARIABLE,
  merge,
  newHistogram,
  type PublishResult,
  percentileMs,
  publishAtRate,
  rpcClient,
  SENT_AT,
  syntheticMessage,
} from './realtime-load.js';

const MEMBERS = 1_000;
/** Client processes, each holding MEMBERS / CLIENT_PROCESSES connections per scenario (to one
 *  gateway, and as many to the baseline server). */
const CLIENT_PROCESSES = 2;
/** Connections per client process opened before the "before" memory reading. */
const WARM_CONNECTIONS = 20;
/** Handshakes and joins in flight per client process. */
const CONNECT_WIDTH = 25;
const TARGET_RATE = 500;
/** One second of the target rate is already 500,000 deliveries: enough to saturate this
 *  machine for many seconds. With 2 s, a backlog of 20 s and more built up, and a run lost 28%
 *  of the baseline's deliveries to dropped sockets (Socket.IO's heartbeat, most likely: a
 *  ping waits behind thousands of queued frames). */
const TARGET_MS = 1_000;
/** Rates below saturation, each for SUSTAINED_MS: latency while the system keeps up, and where
 *  it stops keeping up. */
const SUSTAINED_RATES = [5, 20, 50, 100, 200];
const SUSTAINED_MS = 5_000;
/** The end-to-end phases (POST to the api, commit, publish, fan-out): rates one sender's
 *  requests reach on this machine, each for SUSTAINED_MS. */
const END_TO_END_RATES = [5, 20];
const WARM_UP_RATE = 10;
const WARM_UP_MS = 2_000;
/** Delivery has drained when everything arrived, or nothing arrived for this long. */
const DRAIN_QUIET_MS = 5_000;
/** …and at most this long after the last publish (a bounded run whatever happens). */
const DRAIN_LIMIT_MS = 90_000;
const TARGET_P99_MS = 50;
const TARGET_THROUGHPUT_RATIO = 0.5;
const TARGET_BYTES_PER_CONNECTION = 40 * 1024;
/** Quad's deliveries/s at saturation against Centrifugo's, same run. */
const TARGET_VS_CENTRIFUGO = 1;
/** Quad's p99 at half of Centrifugo's saturation rate, against Centrifugo's p99 there. */
const TARGET_P99_VS_CENTRIFUGO = 1.5;

type Rpc = ReturnType<typeof rpcClient>;

interface PhaseResult {
  scenario: string;
  phase: string;
  targetRate: number;
  publish: PublishResult;
  expected: number;
  received: number;
  deliveriesPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  disconnects: Record<string, number>;
  /** The gateways' own socket_broadcast_delivery_seconds over the phase (publish to the
   *  gateway's broadcast, before any socket write): the bucket holding p50 and p99. */
  gatewayP50: string;
  gatewayP99: string;
  /** Each server process of the scenario: CPU over the phase (publish to drained) and RSS at
   *  its end. */
  servers: Array<{ cpuPercent: number; rss: number }>;
}

interface MemoryResult {
  process: string;
  warm: number;
  total: number;
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** CPU seconds a process has used (user + system), from /proc/<pid>/stat (clock ticks of 10 ms,
 *  USER_HZ on Linux). */
function cpuSecondsOf(pid: number | undefined): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** An HS256 JWT as Centrifugo verifies connection tokens (client.token.hmac_secret_key). */
function centrifugoToken(secret: string, userId: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: userId, exp: Math.floor(Date.now() / 1000) + 86_400 })}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

const CENTRIFUGO = join(import.meta.dirname, '..', 'tools', 'bin', 'centrifugo');

/** A Centrifugo node (tools/bin/centrifugo, built by `make tools`) with its Redis engine on
 *  the state Redis, its HTTP API behind `apiKey`, clients authenticated by HS256 JWTs and free
 *  to subscribe to channels without a namespace. */
async function startCentrifugo(options: {
  dir: string;
  name: string;
  redisUrl: string;
  secret: string;
  apiKey: string;
}): Promise<{ child: ChildProcess; baseUrl: string; port: number }> {
  const port = await freePort();
  const configFile = join(options.dir, `${options.name}.json`);
  writeFileSync(
    configFile,
    JSON.stringify({
      http_server: { address: '127.0.0.1', port },
      log: { level: 'error' },
      client: { token: { hmac_secret_key: options.secret }, allowed_origins: ['*'] },
      channel: { without_namespace: { allow_subscribe_for_client: true } },
      http_api: { key: options.apiKey },
      health: { enabled: true },
      engine: {
        type: 'redis',
        redis: { address: [options.redisUrl], prefix: 'centrifugo-bench' },
      },
    }),
  );
  const child = spawn(CENTRIFUGO, ['--config', configFile], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    `${options.name} /health`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${options.name} exited with ${child.exitCode}`);
      try {
        return (await fetch(`${baseUrl}/health`)).status === 200;
      } catch {
        return false;
      }
    },
    20_000,
  );
  return { child, baseUrl, port };
}

function rssOf(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024;
}

/** MEMBERS users, one group of all of them, one live session each; in four statements. */
async function seed(databaseUrl: string) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const users = await client.query<{ id: string }>(
      `INSERT INTO users (username, email, display_name, role, password_hash)
       SELECT 'bench' || i, 'bench' || i || '@bench.invalid', 'Bench student ' || i, 'student',
              'not-a-password-hash: these accounts never log in'
       FROM generate_series(1, $1::int) AS i
       RETURNING id`,
      [MEMBERS],
    );
    const userIds = users.rows.map((row) => row.id);
    const conversation = await client.query<{ id: string }>(
      `INSERT INTO conversations (kind, title, created_by) VALUES ('group', 'Whole school', $1)
       RETURNING id`,
      [userIds[0]],
    );
    const conversationId = conversation.rows[0]?.id ?? '';
    await client.query(
      `INSERT INTO conversation_members (conversation_id, user_id, role)
       SELECT $1, user_id, CASE WHEN ordinality = 1 THEN 'owner' ELSE 'member' END
       FROM unnest($2::uuid[]) WITH ORDINALITY AS u (user_id, ordinality)`,
      [conversationId, userIds],
    );
    // The same members in a second conversation, for the clients that take message:batch: a
    // publish to one room reaches only its own set of 1,000 connections.
    const batched = await client.query<{ id: string }>(
      `INSERT INTO conversations (kind, title, created_by)
       VALUES ('group', 'Whole school, batched clients', $1) RETURNING id`,
      [userIds[0]],
    );
    const batchedConversationId = batched.rows[0]?.id ?? '';
    await client.query(
      `INSERT INTO conversation_members (conversation_id, user_id, role)
       SELECT $1, user_id, CASE WHEN ordinality = 1 THEN 'owner' ELSE 'member' END
       FROM unnest($2::uuid[]) WITH ORDINALITY AS u (user_id, ordinality)`,
      [batchedConversationId, userIds],
    );
    const tokens = userIds.map(() => newSessionToken());
    await client.query(
      `INSERT INTO sessions (token_hash, user_id, expires_at, user_agent)
       SELECT token_hash, user_id, now() + interval '1 day', 'bench:realtime'
       FROM unnest($1::bytea[], $2::uuid[]) AS s (token_hash, user_id)`,
      [tokens.map(sha256), userIds],
    );
    return { userIds, conversationId, batchedConversationId, tokens };
  } finally {
    await client.end();
  }
}

function forkChild(file: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return fork(join(import.meta.dirname, file), [], {
    execArgv: ['--import', 'tsx'],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** Connects each client process's share of the tokens to its server, warm part first, and
 *  reads the servers' memory before and after. */
async function connectAll(
  clients: Rpc[],
  urls: string[],
  tokens: string[],
  servers: Array<{ name: string; pid: number | undefined; heap(): Promise<number> }>,
): Promise<MemoryResult[]> {
  const share = MEMBERS / CLIENT_PROCESSES;
  const shareOf = (i: number) => tokens.slice(i * share, (i + 1) * share);
  const connect = (i: number, part: string[]) =>
    clients[i]?.call<{ connected: number; ms: number }>('connect', {
      url: urls[i],
      tokens: part,
      width: CONNECT_WIDTH,
    });
  await Promise.all(clients.map((_, i) => connect(i, shareOf(i).slice(0, WARM_CONNECTIONS))));
  await sleep(2_000);
  const before = await Promise.all(
    servers.map(async (s) => ({ rss: rssOf(s.pid), heap: await s.heap() })),
  );
  const started = performance.now();
  const connected = await Promise.all(
    clients.map((_, i) => connect(i, shareOf(i).slice(WARM_CONNECTIONS))),
  );
  log(
    `connected ${MEMBERS - WARM_CONNECTIONS * CLIENT_PROCESSES} more sockets ` +
      `(${connected.reduce((sum, c) => sum + (c?.connected ?? 0), 0)} open in the client ` +
      `processes) in ${int(performance.now() - started)} ms; letting the servers settle for 3 s`,
  );
  await sleep(3_000);
  const after = await Promise.all(
    servers.map(async (s) => ({ rss: rssOf(s.pid), heap: await s.heap() })),
  );
  const perServer = MEMBERS / servers.length;
  return servers.map((server, i) => ({
    process: server.name,
    warm: (WARM_CONNECTIONS * CLIENT_PROCESSES) / servers.length,
    total: perServer,
    rssBefore: before[i]?.rss ?? Number.NaN,
    rssAfter: after[i]?.rss ?? Number.NaN,
    heapBefore: before[i]?.heap ?? Number.NaN,
    heapAfter: after[i]?.heap ?? Number.NaN,
  }));
}

async function joinAll(clients: Rpc[], conversationId: string) {
  const results = await Promise.all(
    clients.map((client) =>
      client.call<{ joined: number; failures: string[] }>('join', {
        conversationId,
        width: CONNECT_WIDTH,
      }),
    ),
  );
  const joined = results.reduce((sum, r) => sum + r.joined, 0);
  if (joined !== MEMBERS) {
    throw new Error(
      `only ${joined} of ${MEMBERS} sockets joined: ${results.flatMap((r) => r.failures)}`,
    );
  }
  log(`all ${joined} sockets joined the conversation`);
}

async function totalReceived(clients: Rpc[]) {
  const progress = await Promise.all(
    clients.map((c) => c.call<{ received: number; unexpectedDisconnects: number }>('progress')),
  );
  return {
    received: progress.reduce((sum, p) => sum + p.received, 0),
    disconnects: progress.reduce((sum, p) => sum + p.unexpectedDisconnects, 0),
  };
}

/** One phase: publish at `rate` for `durationMs`, wait for delivery to drain, and collect. */
/** The gateways whose /metrics a phase reads (none for the baseline, which has no such
 *  histogram). */
let observedGateways: string[] = [];

type Buckets = Map<number, number>;

/** socket_broadcast_delivery_seconds buckets of `message:new`, summed over the gateways. */
async function broadcastBuckets(baseUrls: string[]): Promise<Buckets> {
  const counts: Buckets = new Map();
  for (const url of baseUrls) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const series = /^socket_broadcast_delivery_seconds_bucket\{([^}]*)\} (\S+)$/gm;
    for (const [, labels = '', value] of text.matchAll(series)) {
      if (!labels.includes('event="message:new"')) continue;
      const le = /le="([^"]+)"/.exec(labels)?.[1] ?? '+Inf';
      const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
      counts.set(bound, (counts.get(bound) ?? 0) + Number(value));
    }
  }
  return counts;
}

/** The bucket (cumulative, as Prometheus keeps them) holding quantile `q` of what was
 *  observed between two readings. */
function bucketOf(before: Buckets, after: Buckets, q: number): string {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const inPhase = (bound: number) => (after.get(bound) ?? 0) - (before.get(bound) ?? 0);
  const total = inPhase(Number.POSITIVE_INFINITY);
  if (total <= 0) return '-';
  for (const bound of bounds) {
    if (inPhase(bound) >= q * total) {
      return bound === Number.POSITIVE_INFINITY ? '> 1000' : `<= ${bound * 1000}`;
    }
  }
  return '-';
}

async function phase(
  clients: Rpc[],
  scenario: string,
  name: string,
  rate: number,
  durationMs: number,
  publish: (rate: number, durationMs: number) => Promise<PublishResult>,
  serverPids: Array<number | undefined>,
): Promise<PhaseResult> {
  await Promise.all(clients.map((client) => client.call('reset')));
  const cpuBefore = serverPids.map(cpuSecondsOf);
  const wallBefore = performance.now();
  const bucketsBefore = await broadcastBuckets(observedGateways);
  const expectedSoFar = () => Math.round((rate * durationMs) / 1000) * MEMBERS;
  log(`${scenario}, ${name}: ${rate} msgs/s for ${durationMs / 1000} s to ${MEMBERS} members`);
  let publishing = true;
  const progress = setInterval(() => {
    void totalReceived(clients).then(({ received }) =>
      log(
        `  ${publishing ? 'publishing' : 'draining'}: ${int(received)} of ${int(expectedSoFar())} deliveries`,
      ),
    );
  }, 1_000);
  try {
    const published = await publish(rate, durationMs);
    publishing = false;
    const expected = (published.sent - published.failed) * MEMBERS;
    const publishedAt = Date.now();
    let last = -1;
    let lastChange = Date.now();
    for (;;) {
      const { received } = await totalReceived(clients);
      if (received >= expected) break;
      if (received !== last) {
        last = received;
        lastChange = Date.now();
      }
      if (Date.now() - lastChange > DRAIN_QUIET_MS || Date.now() - publishedAt > DRAIN_LIMIT_MS) {
        break;
      }
      await sleep(100);
    }
    const stats = await Promise.all(
      clients.map((client) =>
        client.call<{
          received: number;
          lastAt: number;
          unexpectedDisconnects: number;
          disconnectReasons: Record<string, number>;
          histogram: Array<[number, number]>;
        }>('stats'),
      ),
    );
    const bucketsAfter = await broadcastBuckets(observedGateways);
    const histogram = newHistogram();
    for (const s of stats) merge(histogram, s.histogram);
    const received = stats.reduce((sum, s) => sum + s.received, 0);
    const lastAt = Math.max(...stats.map((s) => s.lastAt));
    const seconds = Math.max(published.seconds, (lastAt - published.startedAt) / 1000);
    const disconnects: Record<string, number> = {};
    for (const s of stats) {
      for (const [reason, n] of Object.entries(s.disconnectReasons)) {
        disconnects[reason] = (disconnects[reason] ?? 0) + n;
      }
    }
    let max = 0;
    histogram.forEach((count, ms) => {
      if (count > 0) max = ms;
    });
    const result: PhaseResult = {
      scenario,
      phase: name,
      targetRate: rate,
      publish: published,
      expected,
      received,
      deliveriesPerSecond: received / seconds,
      p50: percentileMs(histogram, 0.5),
      p99: percentileMs(histogram, 0.99),
      max,
      disconnects,
      gatewayP50: bucketOf(bucketsBefore, bucketsAfter, 0.5),
      gatewayP99: bucketOf(bucketsBefore, bucketsAfter, 0.99),
      servers: serverPids.map((pid, i) => ({
        cpuPercent:
          (100 * (cpuSecondsOf(pid) - (cpuBefore[i] ?? 0))) /
          ((performance.now() - wallBefore) / 1000),
        rss: rssOf(pid),
      })),
    };
    const lost = expected - received;
    log(
      `  done: published ${int(published.sent)} in ${published.seconds.toFixed(2)} s, ` +
        `${int(received)} of ${int(expected)} deliveries in ${seconds.toFixed(2)} s, ` +
        `p50 ${result.p50} ms, p99 ${result.p99} ms, max ${max} ms` +
        (lost !== 0 ? `  *** ${int(lost)} DELIVERIES LOST ***` : '') +
        (Object.keys(disconnects).length > 0
          ? `  *** sockets dropped so far: ${JSON.stringify(disconnects)} ***`
          : ''),
    );
    return result;
  } finally {
    clearInterval(progress);
  }
}

type Publish = (rate: number, durationMs: number) => Promise<PublishResult>;

/** Real sends: POST /conversations/:id/messages as the first member, `rate` a second without
 *  waiting for answers (a fixed rate, not a closed loop); every answer must be 201. */
function sendOverHttp(apiUrl: string, token: string, conversationId: string): Publish {
  return async (rate, durationMs) => {
    const failures: string[] = [];
    const inFlight: Array<Promise<void>> = [];
    const result = await publishAtRate(rate, durationMs, () => {
      inFlight.push(
        callApi(apiUrl, 'POST', `/conversations/${conversationId}/messages`, {
          token,
          body: { body: `${SENT_AT}${Date.now()}`, idempotencyKey: randomUUID() },
        }).then(
          (reply) => {
            if (reply.status !== 201)
              failures.push(`${reply.status} ${JSON.stringify(reply.body)}`);
          },
          (error: unknown) => {
            failures.push(String(error));
          },
        ),
      );
    });
    await Promise.all(inFlight);
    if (failures.length > 0) {
      log(`  *** ${failures.length} SENDS FAILED, e.g. ${failures[0]} ***`);
    }
    return { ...result, failed: failures.length };
  };
}

const servers: Array<TestPostgresServer | TestRedisServer> = [];
const children: ChildProcess[] = [];
const gateways: ServiceProcess[] = [];
const closers: Array<() => Promise<unknown>> = [];
let exitCode = 0;
process.on('SIGINT', () => {
  for (const child of children) child.kill('SIGTERM');
  for (const gateway of gateways) gateway.child.kill('SIGTERM');
  void Promise.allSettled(servers.map((s) => s.dispose())).then(() => process.exit(130));
});

try {
  const runStarted = performance.now();
  const loadAtStart = loadavg();
  log('realtime benchmark: starting PostgreSQL and the state and cache redis-servers');
  const {
    postgres: postgresServer,
    state: stateServer,
    shared,
  } = await startSharedServers(servers);
  process.env[SHARED_SERVERS_VARIABLE] = JSON.stringify(shared);

  const databaseUrl = await createDatabase(postgresServer.url('postgres'), 'quad_bench_realtime');
  await runMigrations(databaseUrl, createLogger('bench', 'warn'));
  const { userIds, conversationId, batchedConversationId, tokens } = await seed(databaseUrl);
  const senderId = userIds[0] ?? '';
  log(`seeded ${MEMBERS} users, their sessions, and one conversation of all of them`);

  const socketEnv = { ...serviceEnvironment('socket', databaseUrl), LOG_LEVEL: 'warn' };
  const clientChildren = Array.from({ length: CLIENT_PROCESSES }, () =>
    forkChild('realtime-clients.ts'),
  );
  children.push(...clientChildren);
  const clients = clientChildren.map((child, i) => rpcClient(child, `client process ${i + 1}`));
  const results: PhaseResult[] = [];
  const memory: MemoryResult[] = [];

  const redisScenario = '2 gateways + redis adapter';
  const batchedScenario = '2 gateways + redis adapter, clients take message:batch';
  const endToEndScenario = '2 gateways, end to end via the api';
  const baselineScenario = '1 server, in-memory adapter';

  // Every server runs for the whole bench, and every client process holds a connection per
  // member on each side (2 x MEMBERS): phases of the two scenarios then alternate, so that the
  // load of whatever else shares the machine drifts over both alike.
  const apiEnv = {
    ...serviceEnvironment('api', databaseUrl),
    LOG_LEVEL: 'warn',
    // One sender at up to END_TO_END_RATES' highest rate: far above a person's limits.
    RATE_LIMITS: JSON.stringify({
      'message-send': { limit: 10_000, windowMs: 60_000 },
      'api-user': { limit: 1_000_000, windowMs: 1_000, burst: 1_000_000 },
    }),
  };
  const baselineChild = forkChild('realtime-baseline-server.ts', {
    ...process.env,
    ...socketEnv,
    NODE_ENV: 'test',
  });
  children.push(baselineChild);
  const baseline = rpcClient(baselineChild, 'baseline server');
  const [gatewayA, gatewayB, api, { port: baselinePort }] = await Promise.all([
    startService('socket', socketEnv),
    startService('socket', socketEnv),
    startService('api', apiEnv),
    baseline.call<{ port: number }>('listen'),
  ]);
  gateways.push(gatewayA, gatewayB, api);
  const gatewayUrls = [gatewayA.baseUrl, gatewayB.baseUrl];
  log(
    `gateways on :${gatewayA.port} and :${gatewayB.port}, api on :${api.port}, ` +
      `baseline server on :${baselinePort}`,
  );

  memory.push(
    ...(await connectAll(
      clients,
      clients.map((_, i) => gatewayUrls[i % gatewayUrls.length] ?? ''),
      tokens,
      [gatewayA, gatewayB].map((gateway, i) => ({
        name: `gateway ${String.fromCharCode(65 + i)} (services/socket)`,
        pid: gateway.child.pid,
        heap: () => scrapeMetric(gateway.baseUrl, 'nodejs_heap_size_used_bytes'),
      })),
    )),
  );
  await joinAll(clients, conversationId);
  // The same members again on the same gateways, from client processes whose handshake asks
  // for message:batch (services/socket/broadcast-coalescing.ts), in a room of their own.
  const batchedChildren = Array.from({ length: CLIENT_PROCESSES }, () =>
    forkChild('realtime-clients.ts', { ...process.env, [BATCHED_CLIENTS_VARIABLE]: '1' }),
  );
  children.push(...batchedChildren);
  const batchedClients = batchedChildren.map((child, i) =>
    rpcClient(child, `batched client process ${i + 1}`),
  );
  await connectAll(
    batchedClients,
    batchedClients.map((_, i) => gatewayUrls[i % gatewayUrls.length] ?? ''),
    tokens,
    [],
  );
  await joinAll(batchedClients, batchedConversationId);
  memory.push(
    ...(await connectAll(
      clients,
      clients.map(() => `http://127.0.0.1:${baselinePort}`),
      tokens,
      [
        {
          name: 'baseline server (in-memory adapter, no presence)',
          pid: baselineChild.pid,
          heap: async () => (await baseline.call<{ heapUsed: number }>('heap')).heapUsed,
        },
      ],
    )),
  );
  await joinAll(clients, conversationId);

  const apiConfig = loadServiceConfig('api', apiEnv);
  const benchLogger = createLogger('bench', 'warn');
  const publisherRedis = createRedisClient(
    apiConfig.redis.state,
    'command',
    'quad-bench-publisher',
    benchLogger,
  );
  closers.push(() => closeRedisClient(publisherRedis));
  await new Promise((resolve) => publisherRedis.once('ready', resolve));
  const publisher = new RealtimePublisher({
    redis: publisherRedis,
    keyPrefix: apiConfig.redis.keyPrefix,
    registry: new Registry(),
    logger: benchLogger,
  });
  // The peer: two Centrifugo nodes on the same state Redis (its Redis engine), a centrifuge-js
  // connection per member of their own in client processes of their own, publishes through
  // node A's HTTP API. Skipped, loudly, when `make tools` has not built it.
  const centrifugoScenario = '2 Centrifugo nodes + redis engine';
  const centrifugoScenarios: typeof scenarios = [];
  const centrifugoDir = mkdtempSync(join(tmpdir(), 'quad-bench-centrifugo-'));
  closers.push(async () => rmSync(centrifugoDir, { recursive: true, force: true }));
  if (existsSync(CENTRIFUGO)) {
    const secret = randomBytes(32).toString('hex');
    const apiKey = randomBytes(16).toString('hex');
    const redisUrl = `redis://default:${stateServer.passwords.default}@127.0.0.1:${stateServer.port}`;
    const nodes = await Promise.all(
      ['centrifugo-a', 'centrifugo-b'].map((name) =>
        startCentrifugo({ dir: centrifugoDir, name, redisUrl, secret, apiKey }),
      ),
    );
    for (const node of nodes) {
      closers.push(async () => {
        node.child.kill('SIGTERM');
      });
    }
    const centrifugoChildren = Array.from({ length: CLIENT_PROCESSES }, () =>
      forkChild('realtime-centrifugo-clients.ts'),
    );
    children.push(...centrifugoChildren);
    const centrifugoClients = centrifugoChildren.map((child, i) =>
      rpcClient(child, `centrifugo client process ${i + 1}`),
    );
    log(`centrifugo nodes on :${nodes.map((node) => node.port).join(' and :')}`);
    memory.push(
      ...(await connectAll(
        centrifugoClients,
        centrifugoClients.map(
          (_, i) => `ws://127.0.0.1:${nodes[i % nodes.length]?.port ?? 0}/connection/websocket`,
        ),
        userIds.map((userId) => centrifugoToken(secret, userId)),
        nodes.map((node, i) => ({
          name: `centrifugo node ${String.fromCharCode(65 + i)}`,
          pid: node.child.pid,
          heap: async () => Number.NaN,
        })),
      )),
    );
    await joinAll(centrifugoClients, conversationId);
    const publishUrl = `${nodes[0]?.baseUrl}/api/publish`;
    const channel = `conversation_${conversationId}`;
    centrifugoScenarios.push({
      name: centrifugoScenario,
      observe: [],
      clients: centrifugoClients,
      pids: nodes.map((node) => node.child.pid),
      publish: async (rate, durationMs) => {
        const inFlight: Array<Promise<void>> = [];
        let failed = 0;
        const result = await publishAtRate(rate, durationMs, (index) => {
          // The same event a Quad client gets, with the same emittedAt.
          const data = {
            emittedAt: Date.now(),
            message: syntheticMessage(conversationId, senderId, index + 1),
          };
          inFlight.push(
            fetch(publishUrl, {
              method: 'POST',
              headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
              body: JSON.stringify({ channel, data }),
            }).then(
              async (reply) => {
                const body = await reply.text();
                if (reply.status !== 200 || body.includes('"error"')) failed++;
              },
              () => {
                failed++;
              },
            ),
          );
        });
        await Promise.all(inFlight);
        return { ...result, failed };
      },
    });
  } else {
    log(`*** ${CENTRIFUGO} is missing: run \`make tools\`; the Centrifugo rows are left out ***`);
  }

  const scenarios: Array<{
    name: string;
    observe: string[];
    clients: Rpc[];
    pids: Array<number | undefined>;
    publish: Publish;
  }> = [
    {
      name: redisScenario,
      observe: gatewayUrls,
      clients,
      pids: [gatewayA.child.pid, gatewayB.child.pid],
      publish: ((rate, durationMs) =>
        publishAtRate(rate, durationMs, (index) => {
          void publisher.messageCreated(syntheticMessage(conversationId, senderId, index + 1));
        })) as Publish,
    },
    {
      name: batchedScenario,
      observe: gatewayUrls,
      clients: batchedClients,
      pids: [gatewayA.child.pid, gatewayB.child.pid],
      publish: ((rate, durationMs) =>
        publishAtRate(rate, durationMs, (index) => {
          void publisher.messageCreated(
            syntheticMessage(batchedConversationId, senderId, index + 1),
          );
        })) as Publish,
    },
    {
      name: baselineScenario,
      observe: [],
      clients,
      pids: [baselineChild.pid],
      publish: ((rate, durationMs) =>
        baseline.call<PublishResult>('publish', {
          rate,
          durationMs,
          conversationId,
          senderId,
        })) as Publish,
    },
  ];
  scenarios.push(...centrifugoScenarios);
  let turn = 0;
  /** The same phase on every scenario, the order rotating from phase to phase. */
  const onBoth = async (name: string, rate: number, durationMs: number) => {
    const first = turn++ % scenarios.length;
    const order = [...scenarios.slice(first), ...scenarios.slice(0, first)];
    for (const scenario of order) {
      observedGateways = scenario.observe;
      const result = await phase(
        scenario.clients,
        scenario.name,
        name,
        rate,
        durationMs,
        scenario.publish,
        scenario.pids,
      );
      if (!name.startsWith('warm-up')) results.push(result);
    }
  };
  await onBoth('warm-up (not reported)', WARM_UP_RATE, WARM_UP_MS);
  for (const rate of SUSTAINED_RATES) await onBoth(`${rate} msgs/s`, rate, SUSTAINED_MS);

  observedGateways = gatewayUrls;
  const endToEnd = sendOverHttp(api.baseUrl, tokens[0] ?? '', conversationId);
  const endToEndPids = [gatewayA.child.pid, gatewayB.child.pid, api.child.pid];
  await phase(
    clients,
    endToEndScenario,
    'warm-up (not reported)',
    5,
    WARM_UP_MS,
    endToEnd,
    endToEndPids,
  );
  for (const rate of END_TO_END_RATES) {
    results.push(
      await phase(
        clients,
        endToEndScenario,
        `${rate} msgs/s`,
        rate,
        SUSTAINED_MS,
        endToEnd,
        endToEndPids,
      ),
    );
  }

  await onBoth('target', TARGET_RATE, TARGET_MS);
  observedGateways = [];
  await Promise.all(
    [...new Set(scenarios.flatMap((scenario) => scenario.clients))].map((client) =>
      client.call('close'),
    ),
  );
  await baseline.call('close');
  const scenarioOrder = [
    redisScenario,
    batchedScenario,
    centrifugoScenario,
    endToEndScenario,
    baselineScenario,
  ];
  results.sort((a, b) => scenarioOrder.indexOf(a.scenario) - scenarioOrder.indexOf(b.scenario));

  // The report.
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  // Below saturation both scenarios deliver what is offered (1.00x says nothing); the target
  // phase saturates both, and its ratio is the one the target is about.
  const throughputVerdict = (ratio: number, phaseName: string) =>
    `${ratio.toFixed(2)}x` +
    (phaseName === 'target' ? ` ${verdict(ratio >= TARGET_THROUGHPUT_RATIO)}` : '');
  console.log(
    `\nrealtime benchmark: node ${process.version}, ${MEMBERS} members in one conversation, ` +
      `${MEMBERS} socket.io-client connections (websocket) per scenario in ${CLIENT_PROCESSES} client ` +
      `processes, scenarios alternating phase by phase, everything on 127.0.0.1 of one machine (${cpus().length} CPUs; load average ` +
      `${loadAtStart.map((l) => l.toFixed(1)).join(' ')} at the start, ` +
      `${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at the end); ` +
      `${int((performance.now() - runStarted) / 1000)} s in all.\n` +
      `"${redisScenario}": two services/socket processes on one Redis, ${MEMBERS / 2} connections each; ` +
      `published by RealtimePublisher.messageCreated (Socket.IO Redis emitter) with a synthetic message, ` +
      `the path of every message after its commit (no api, no PostgreSQL in the loop).\n` +
      `"${batchedScenario}": the same gateways, a second room of the same ${MEMBERS} members held by ` +
      `client processes whose handshake asks for message:batch (the events of one room that reach a ` +
      `gateway within one turn of its event loop, in one frame); same publisher.\n` +
      `"${endToEndScenario}": the same gateways and connections; POST /conversations/:id/messages ` +
      `to a real api process (commit to PostgreSQL, then the same publisher); latency from the POST.\n` +
      `"${baselineScenario}": bench/realtime-baseline-server.ts, one Socket.IO server with the gateway's ` +
      `handshake and join code and the default in-memory adapter; io.to(room).emit in that process.\n` +
      `msgs/s = messages published to the 1,000-member room per second; deliveries = messages x members; ` +
      `latency (p50/p99/max) = client receive time - emittedAt, over every delivery; ` +
      `gateway p50/p99 = the gateways' socket_broadcast_delivery_seconds bucket (publish to the ` +
      `gateway's broadcast, before the socket writes), per broadcast.\n`,
  );
  const baselineTarget = results.find(
    (r) => r.scenario === baselineScenario && r.phase === 'target',
  );
  console.log(
    table(
      [
        'scenario',
        'phase',
        'target msgs/s',
        'published msgs/s',
        'delivered msgs/s',
        'deliveries/s',
        'p50 ms',
        'p99 ms',
        'max ms',
        'gateway p50/p99 ms',
        'failed sends',
        'lost',
        'dropped sockets',
        'server CPU % / RSS MiB',
        `p99 <= ${TARGET_P99_MS} ms`,
        'vs baseline',
        'Quad / Centrifugo deliveries/s, p99',
      ],
      results.map((r) => {
        const baselineRow = results.find(
          (b) => b.scenario === baselineScenario && b.phase === r.phase,
        );
        const centrifugoRow = results.find(
          (c) => c.scenario === centrifugoScenario && c.phase === r.phase,
        );
        const lost = r.expected - r.received;
        return [
          r.scenario,
          r.phase,
          int(r.targetRate),
          int(r.publish.sent / r.publish.seconds),
          int(r.deliveriesPerSecond / MEMBERS),
          int(r.deliveriesPerSecond),
          String(r.p50),
          String(r.p99),
          String(r.max),
          r.gatewayP50 === '-' ? '-' : `${r.gatewayP50} / ${r.gatewayP99}`,
          r.publish.failed === 0 ? '0' : `${int(r.publish.failed)} FAILED`,
          lost === 0 ? '0' : `${int(lost)} LOST`,
          Object.entries(r.disconnects)
            .map(([reason, n]) => `${n} (${reason})`)
            .join(', ') || '0',
          r.servers
            .map((server) => `${int(server.cpuPercent)}% ${int(server.rss / 2 ** 20)}`)
            .join(' / '),
          `${verdict(r.p99 <= TARGET_P99_MS)} (${(r.p99 / TARGET_P99_MS).toFixed(2)}x)`,
          baselineRow && r.scenario === redisScenario
            ? throughputVerdict(r.deliveriesPerSecond / baselineRow.deliveriesPerSecond, r.phase)
            : '-',
          centrifugoRow && (r.scenario === redisScenario || r.scenario === batchedScenario)
            ? `${(r.deliveriesPerSecond / centrifugoRow.deliveriesPerSecond).toFixed(2)}x, ` +
              `${(r.p99 / Math.max(1, centrifugoRow.p99)).toFixed(2)}x`
            : '-',
        ];
      }),
    ),
  );
  console.log(
    '\ncoalescing, side by side on the same gateways: clients that take message:batch / clients ' +
      'that take one frame per event, per phase (deliveries/s; p99)',
  );
  for (const batchedRow of results.filter((r) => r.scenario === batchedScenario)) {
    const plainRow = results.find(
      (r) => r.scenario === redisScenario && r.phase === batchedRow.phase,
    );
    if (!plainRow) continue;
    console.log(
      `  ${batchedRow.phase}: ${int(batchedRow.deliveriesPerSecond)} / ` +
        `${int(plainRow.deliveriesPerSecond)} deliveries/s ` +
        `(${(batchedRow.deliveriesPerSecond / plainRow.deliveriesPerSecond).toFixed(2)}x); ` +
        `p99 ${batchedRow.p99} / ${plainRow.p99} ms`,
    );
  }
  console.log('\nmemory per idle authenticated connection (connected, not yet joined)\n');
  console.log(
    table(
      [
        'process',
        'connections',
        'RSS before',
        'RSS after',
        'RSS/conn',
        'heap before',
        'heap after',
        'heap/conn',
      ],
      memory.map((m) => {
        const added = m.total - m.warm;
        return [
          m.process,
          `${m.warm} -> ${m.total}`,
          mib(m.rssBefore),
          mib(m.rssAfter),
          kib((m.rssAfter - m.rssBefore) / added),
          mib(m.heapBefore),
          mib(m.heapAfter),
          kib((m.heapAfter - m.heapBefore) / added),
        ];
      }),
    ),
  );

  const redisTarget = results.find((r) => r.scenario === redisScenario && r.phase === 'target');
  const ratio =
    (redisTarget?.deliveriesPerSecond ?? Number.NaN) /
    (baselineTarget?.deliveriesPerSecond ?? Number.NaN);
  const gatewayMemory = memory.filter((m) => m.process.startsWith('gateway'));
  const worstRss = Math.max(
    ...gatewayMemory.map((m) => (m.rssAfter - m.rssBefore) / (m.total - m.warm)),
  );
  const lostAnywhere = results.reduce((sum, r) => sum + (r.expected - r.received), 0);
  const failedSends = results.reduce((sum, r) => sum + r.publish.failed, 0);
  const peerLines: string[] = [];
  const centrifugoTarget = results.find(
    (r) => r.scenario === centrifugoScenario && r.phase === 'target',
  );
  // Both ways a Quad client can connect, against the peer: one frame per event (any
  // Socket.IO client) and message:batch (the web client's way, and the closer match to
  // Centrifugo, which writes the messages queued for a connection in one frame).
  const quadWays = [
    { label: 'one frame per event', scenario: redisScenario },
    { label: 'message:batch clients', scenario: batchedScenario },
  ];
  for (const { label, scenario } of quadWays) {
    const quadTarget = results.find((r) => r.scenario === scenario && r.phase === 'target');
    if (!centrifugoTarget || !quadTarget) continue;
    const fanOut = quadTarget.deliveriesPerSecond / centrifugoTarget.deliveriesPerSecond;
    peerLines.push(
      `  fan-out at saturation >= ${TARGET_VS_CENTRIFUGO}x Centrifugo's deliveries/s (${label}): ` +
        `${verdict(fanOut >= TARGET_VS_CENTRIFUGO)} (${fanOut.toFixed(2)}x: ` +
        `${int(quadTarget.deliveriesPerSecond)} vs ${int(centrifugoTarget.deliveriesPerSecond)})`,
    );
    // The sustained rate closest to half of Centrifugo's saturation rate (in msgs/s).
    const half = centrifugoTarget.deliveriesPerSecond / MEMBERS / 2;
    const rate = [...SUSTAINED_RATES].sort((a, b) => Math.abs(a - half) - Math.abs(b - half))[0];
    const quadAt = results.find((r) => r.scenario === scenario && r.targetRate === rate);
    const peerAt = results.find((r) => r.scenario === centrifugoScenario && r.targetRate === rate);
    if (quadAt && peerAt) {
      const limit = peerAt.p99 * TARGET_P99_VS_CENTRIFUGO;
      peerLines.push(
        `  p99 at ${rate} msgs/s (closest to half of Centrifugo's saturation, ${int(half)} msgs/s) ` +
          `<= ${TARGET_P99_VS_CENTRIFUGO}x Centrifugo's (${label}): ${verdict(quadAt.p99 <= limit)} ` +
          `(${quadAt.p99} ms vs ${peerAt.p99} ms)`,
      );
    }
  }
  const centrifugoMemory = memory.filter((m) => m.process.startsWith('centrifugo'));
  if (centrifugoMemory.length > 0) {
    const peerBest = Math.min(
      ...centrifugoMemory.map((m) => (m.rssAfter - m.rssBefore) / (m.total - m.warm)),
    );
    peerLines.push(
      `  idle connection RSS never above Centrifugo's (its best node): ` +
        `${verdict(worstRss <= peerBest)} (${kib(worstRss)} vs ${kib(peerBest)})`,
    );
  }
  console.log(
    [
      '\ntargets:',
      `  p99 <= ${TARGET_P99_MS} ms at ${TARGET_RATE} msgs/s to ${MEMBERS} members, 2 gateways: ` +
        `${verdict((redisTarget?.p99 ?? Number.POSITIVE_INFINITY) <= TARGET_P99_MS)} ` +
        `(p99 ${redisTarget?.p99} ms; ${int((redisTarget?.publish.sent ?? 0) / (redisTarget?.publish.seconds ?? 1))} msgs/s published, ` +
        `${int((redisTarget?.deliveriesPerSecond ?? 0) / MEMBERS)} msgs/s = ${int(redisTarget?.deliveriesPerSecond ?? 0)} deliveries/s delivered)`,
      `  2 gateways + adapter >= ${TARGET_THROUGHPUT_RATIO * 100}% of the baseline's deliveries/s ` +
        `at the target rate: ${verdict(ratio >= TARGET_THROUGHPUT_RATIO)} (${ratio.toFixed(2)}x)`,
      `  <= ${TARGET_BYTES_PER_CONNECTION / 1024} KB per idle connection (gateway RSS, worst instance): ` +
        `${verdict(worstRss <= TARGET_BYTES_PER_CONNECTION)} (${kib(worstRss)})`,
      ...peerLines,
      lostAnywhere === 0
        ? '  lost deliveries: 0'
        : `  *** LOST DELIVERIES: ${int(lostAnywhere)} (see the table) ***`,
      ...(failedSends === 0
        ? []
        : [
            `  *** FAILED SENDS (end to end, not delivered, not counted as lost): ${failedSends} ***`,
          ]),
    ].join('\n'),
  );
} catch (error) {
  console.error('realtime benchmark failed:', error);
  exitCode = 1;
} finally {
  for (const close of closers) await close().catch(() => undefined);
  for (const child of children) child.kill('SIGTERM');
  await Promise.allSettled(gateways.map((gateway) => gateway.stop('SIGTERM')));
  await Promise.allSettled(servers.map((server) => server.dispose()));
}
process.exit(exitCode);
