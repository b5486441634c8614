/**
 * `make test-observability`: proves the operators' view on a live native stack, on 127.0.0.1.
 *
 * 1. Starts PostgreSQL and both Redis instances (the test harness's real servers), their
 *    exporters with least-privilege users (Redis ACL user `exporter`, PostgreSQL role
 *    `quad_exporter` in pg_monitor), Jaeger, Alertmanager with the shipped config, a
 *    Prometheus that loads the shipped alert rules and scrapes everything every second, and
 *    the api, socket and worker services with tracing on, and a livekit-server (tools/bin) whose
 *    webhook goes to the api.
 * 2. Drives a short varied workload: logins (some refused: 429), group creation, sends,
 *    reads, searches, sockets with a reconnect catch-up, a webhook to a receiver that fails
 *    once (a retry), a call (two real participants through @livekit/rtc-node, a media key lost
 *    from Redis and replaced by the reconciler, a leave that rotates the key, a forged LiveKit
 *    webhook), and a cache Redis outage that trips the api's breaker.
 * 3. Evaluates EVERY panel expression of EVERY dashboard (dashboards/*.json, Grafana variables
 *    substituted) through Prometheus's HTTP API: any that errors or returns no series fails.
 * 4. Finds the trace of one send through Jaeger's query API and checks its spans.
 * 5. Waits for a firing alert (QuadWatchdog) to reach the test receiver through Alertmanager.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispose as disposeLiveKitClients } from '@livekit/rtc-node';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { callApi, createAccount, loginAs } from '../harness/api-client.js';
import { freePort } from '../harness/free-port.js';
import { joinLiveKit } from '../harness/livekit-participant.js';
import { reserveLiveKit, startLiveKitServer } from '../harness/livekit-server.js';
import { createDatabase, startPostgresServer } from '../harness/postgres-server.js';
import { connectAdmin } from '../harness/redis-admin.js';
import { startRedisServer } from '../harness/redis-server.js';
import { scrapeMetric } from '../harness/service-metrics.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import { connectSocket, request } from '../harness/socket-client.js';
import { waitFor } from '../harness/wait-for.js';

const root = join(import.meta.dirname, '..', '..');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const log = (message: string) => console.log(`[observability ${elapsed()}] ${message}`);

const workDir = mkdtempSync(join(tmpdir(), 'quad-observability-'));
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<unknown> | unknown> = [];

/** A helper program on loopback; its output is kept for the failure report. */
function run(name: string, command: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(command, args, {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`${name} exited (${code ?? signal}):\n${output}`);
  });
  children.push(child);
  return { child, output: () => output };
}
let stopping = false;

async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url);
  return response.ok;
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** A local HTTP receiver recording every request body. */
async function receiver(answer: (request: IncomingMessage, index: number) => number) {
  const bodies: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      bodies.push(body);
      res.statusCode = answer(req, bodies.length - 1);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies };
}

interface DashboardJson {
  uid: string;
  title: string;
  panels: Array<{
    type: string;
    title: string;
    gridPos?: { h: number; w: number; x: number; y: number };
    datasource?: { uid?: string };
    targets?: Array<{ expr?: string; refId?: string; datasource?: { uid?: string } }>;
  }>;
}

/** The checks Grafana's provisioning relies on, beyond the SDK's types: ids and references. */
function validateDashboard(file: string, dashboard: DashboardJson): void {
  assert.ok(dashboard.uid && dashboard.title, `${file}: uid and title`);
  for (const panel of dashboard.panels) {
    assert.ok(panel.type && panel.title, `${file}: every panel has a type and a title`);
    assert.ok(panel.gridPos, `${file} ${panel.title}: gridPos`);
    if (panel.type === 'row') continue;
    assert.equal(panel.datasource?.uid, 'prometheus', `${file} ${panel.title}: data source`);
    assert.ok(panel.targets && panel.targets.length > 0, `${file} ${panel.title}: queries`);
    const refIds = new Set(panel.targets.map((target) => target.refId));
    assert.equal(refIds.size, panel.targets.length, `${file} ${panel.title}: unique refIds`);
    for (const target of panel.targets) assert.ok(target.expr, `${file} ${panel.title}: expr`);
  }
}

/** Grafana's variables as Grafana would send them for "All" and a 1 s scrape interval. */
function substitute(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$service', '.*');
}

async function main() {
  // --- the stack -------------------------------------------------------------------------
  const jaegerBinary = join(root, 'tools', 'bin', 'jaeger');
  assert.ok(existsSync(jaegerBinary), 'tools/bin/jaeger is missing: run make tools');

  const postgres = await startPostgresServer();
  cleanups.push(() => postgres.dispose());
  const databaseUrl = await createDatabase(postgres.url('postgres'), 'quad_observability');
  await runMigrations(databaseUrl, createLogger('test', 'silent'));
  const exporterPassword = randomBytes(18).toString('hex');
  // The exporter's role, made by the script compose and make dev run.
  execFileSync('sh', [join(root, 'config', 'postgres', 'exporter-role.sh')], {
    env: {
      PATH: process.env.PATH ?? '',
      PGHOST: '127.0.0.1',
      PGPORT: String(postgres.port),
      PGUSER: postgres.user,
      PGPASSWORD: postgres.password,
      PGDATABASE: 'quad_observability',
      POSTGRES_EXPORTER_PASSWORD: exporterPassword,
    },
    stdio: 'pipe',
  });

  // start-redis.sh enables the `exporter` ACL user when this is set, as compose and make dev do.
  process.env.REDIS_EXPORTER_PASSWORD = exporterPassword;
  const state = await startRedisServer('state');
  const cache = await startRedisServer('cache', state.passwords);
  cleanups.push(
    () => state.dispose(),
    () => cache.dispose(),
  );

  const ports = {
    redisExporterState: await freePort(),
    redisExporterCache: await freePort(),
    postgresExporter: await freePort(),
    jaegerOtlp: await freePort(),
    jaegerQuery: await freePort(),
    jaegerGrpc: await freePort(),
    alertmanager: await freePort(),
    prometheus: await freePort(),
  };
  for (const [role, port, redis] of [
    ['state', ports.redisExporterState, state],
    ['cache', ports.redisExporterCache, cache],
  ] as const) {
    run(`redis_exporter ${role}`, 'prometheus-redis-exporter', [
      `-redis.addr=redis://127.0.0.1:${redis.port}`,
      '-redis.user=exporter',
      `-redis.password=${exporterPassword}`,
      `-web.listen-address=127.0.0.1:${port}`,
    ]);
  }
  run(
    'postgres_exporter',
    'prometheus-postgres-exporter',
    [`--web.listen-address=127.0.0.1:${ports.postgresExporter}`],
    {
      DATA_SOURCE_NAME: `postgresql://quad_exporter:${exporterPassword}@127.0.0.1:${postgres.port}/quad_observability?sslmode=disable`,
    },
  );
  run('jaeger', jaegerBinary, ['--config', join(root, 'config', 'jaeger', 'jaeger.yaml')], {
    JAEGER_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.jaegerOtlp}`,
    JAEGER_QUERY_HTTP_ENDPOINT: `127.0.0.1:${ports.jaegerQuery}`,
    JAEGER_QUERY_GRPC_ENDPOINT: `127.0.0.1:${ports.jaegerGrpc}`,
  });

  const alerts = await receiver(() => 200);
  const alertmanagerConfig = join(workDir, 'alertmanager.yml');
  writeFileSync(
    alertmanagerConfig,
    readFileSync(join(root, 'config', 'alertmanager', 'alertmanager.yml.template'), 'utf8')
      .replaceAll('{{ALERT_WEBHOOK_URL}}', `${alerts.url}/alerts`)
      // The shipped waits are for people; the test's receiver need not wait 30 s.
      .replace('group_wait: 30s', 'group_wait: 1s'),
  );
  run('alertmanager', 'prometheus-alertmanager', [
    `--config.file=${alertmanagerConfig}`,
    `--storage.path=${join(workDir, 'alertmanager')}`,
    `--web.listen-address=127.0.0.1:${ports.alertmanager}`,
    '--cluster.listen-address=',
  ]);

  const jaeger = `http://127.0.0.1:${ports.jaegerQuery}`;
  await waitFor('jaeger query API', () => httpOk(`${jaeger}/api/services`), 60_000, 200);

  const otel = {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.jaegerOtlp}`,
    OTEL_TRACES_SAMPLER: 'parentbased_always_on',
  };
  const redisPorts = {
    QUAD_PROFILE: 'host',
    REDIS_PORT: String(state.port),
    REDIS_CACHE_PORT: String(cache.port),
    DATABASE_URL: databaseUrl,
    ...otel,
  };
  const webhookKey = randomBytes(32).toString('hex');
  // LiveKit starts after the api, whose address its webhook needs; the services get its
  // address and key now.
  const liveKitReservation = await reserveLiveKit();
  // One after the other: three cold starts at once on a busy two-core machine are slow.
  const services: ServiceProcess[] = [];
  cleanups.push(() => Promise.all(services.map((service) => service.stop())));
  for (const [name, env] of [
    [
      'api',
      {
        ...redisPorts,
        REDIS_USERNAME: 'api',
        REDIS_PASSWORD: state.passwords.api,
        WEBHOOK_SECRET_KEY: webhookKey,
        WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
        // Small login limits, so that the workload's wrong passwords draw some 429s. LiveKit's
        // webhooks are anonymous requests from 127.0.0.1 until their signature is checked, like
        // every other anonymous request here: they must not meet the per-address budget.
        RATE_LIMITS: JSON.stringify({
          'login-account': { limit: 3, windowMs: 60_000 },
          'api-anonymous': { limit: 100_000, windowMs: 60_000 },
        }),
        ...liveKitReservation.serviceEnvironment,
      },
    ],
    [
      'socket',
      {
        ...redisPorts,
        REDIS_USERNAME: 'socket',
        REDIS_PASSWORD: state.passwords.socket,
      },
    ],
    [
      'worker',
      {
        ...redisPorts,
        REDIS_USERNAME: 'worker',
        REDIS_PASSWORD: state.passwords.worker,
        WEBHOOK_SECRET_KEY: webhookKey,
        WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
        WEBHOOK_BACKOFF_BASE_MS: '200',
        ...liveKitReservation.serviceEnvironment,
      },
    ],
  ] as const) {
    services.push(await startService(name, env, 120_000));
  }
  const [api, socket, worker] = services as [ServiceProcess, ServiceProcess, ServiceProcess];
  const livekit = await startLiveKitServer(
    liveKitReservation,
    `${api.baseUrl}/api/v1/livekit/webhook`,
  );
  cleanups.push(() => livekit.stop());

  const target = (url: string) => url.replace('http://', '');
  const prometheusConfig = join(workDir, 'prometheus.yml');
  writeFileSync(
    prometheusConfig,
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s', scrape_timeout: '900ms' },
      rule_files: [join(root, 'config', 'prometheus', 'rules', 'quad-alerts.yml')],
      alerting: {
        alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${ports.alertmanager}`] }] }],
      },
      scrape_configs: [
        {
          job_name: 'quad',
          honor_labels: true,
          static_configs: [
            { targets: [target(api.baseUrl)], labels: { service: 'api' } },
            { targets: [target(socket.baseUrl)], labels: { service: 'socket' } },
            { targets: [target(worker.baseUrl)], labels: { service: 'worker' } },
          ],
        },
        {
          job_name: 'redis',
          static_configs: [
            { targets: [`127.0.0.1:${ports.redisExporterState}`], labels: { redis: 'state' } },
            { targets: [`127.0.0.1:${ports.redisExporterCache}`], labels: { redis: 'cache' } },
          ],
        },
        {
          job_name: 'postgres',
          static_configs: [{ targets: [`127.0.0.1:${ports.postgresExporter}`] }],
        },
      ],
    }),
  );
  run('prometheus', 'prometheus', [
    `--config.file=${prometheusConfig}`,
    `--storage.tsdb.path=${join(workDir, 'prometheus')}`,
    `--web.listen-address=127.0.0.1:${ports.prometheus}`,
    // A firing alert is sent at once and then re-sent at this interval: the first send can
    // precede Prometheus's discovery of Alertmanager.
    '--rules.alert.resend-delay=2s',
  ]);
  const prometheus = `http://127.0.0.1:${ports.prometheus}`;
  await waitFor('prometheus ready', () => httpOk(`${prometheus}/-/ready`), 60_000, 200);
  log(
    'stack up: postgres, 2 redis, 3 exporters, jaeger, alertmanager, prometheus, api, socket, worker, livekit',
  );

  // --- the workload --------------------------------------------------------------------------
  const names = ['ada', 'brian', 'chloe'] as const;
  const ids: Record<string, string> = {};
  for (const name of names) ids[name] = (await createAccount(databaseUrl, name)).id;
  ids.root = (await createAccount(databaseUrl, 'root', 'admin')).id;
  const tokens: Record<string, string> = {};
  for (const name of [...names, 'root']) tokens[name] = (await loginAs(api.baseUrl, name)).token;
  const ada = tokens.ada as string;
  // Wrong passwords until the per-account limit answers 429.
  let refused = 0;
  for (let attempt = 0; attempt < 6; attempt += 1) {
    const reply = await callApi(api.baseUrl, 'POST', '/auth/login', {
      body: { username: 'chloe', password: 'not the password' },
    });
    if (reply.status === 429) refused += 1;
  }
  assert.ok(refused > 0, 'the workload drew no 429');

  const failingOnce = await receiver((_, index) => (index === 0 ? 500 : 204));
  const webhook = await callApi(api.baseUrl, 'POST', '/admin/webhooks', {
    token: tokens.root,
    body: { url: `${failingOnce.url}/hook`, events: ['message.created'] },
  });
  assert.equal(webhook.status, 201, JSON.stringify(webhook.body));

  const group = await callApi(api.baseUrl, 'POST', '/conversations', {
    token: ada,
    body: { kind: 'group', title: 'Observers', memberIds: [ids.brian, ids.chloe] },
  });
  assert.equal(group.status, 201, JSON.stringify(group.body));
  const conversationId = String(group.body.id);

  const brianSocket = await connectSocket(socket.baseUrl, tokens.brian);
  const chloeSocket = await connectSocket(socket.baseUrl, tokens.chloe);
  cleanups.push(
    () => brianSocket.close(),
    () => chloeSocket.close(),
  );

  // The send whose trace is checked below: its trace id is ours, through traceparent.
  const traceId = randomBytes(16).toString('hex');
  const traced = await fetch(`${api.baseUrl}/api/v1/conversations/${conversationId}/messages`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${ada}`,
      'content-type': 'application/json',
      traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
    },
    body: JSON.stringify({ body: 'traced hello', idempotencyKey: crypto.randomUUID() }),
  });
  assert.equal(traced.status, 201, await traced.text());
  for (let index = 0; index < 10; index += 1) {
    const sent = await callApi(api.baseUrl, 'POST', `/conversations/${conversationId}/messages`, {
      token: index % 2 === 0 ? ada : (tokens.brian as string),
      body: { body: `observed message ${index}`, idempotencyKey: crypto.randomUUID() },
    });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    await callApi(api.baseUrl, 'GET', `/conversations/${conversationId}/messages`, { token: ada });
    await callApi(api.baseUrl, 'GET', '/conversations', { token: tokens.brian });
  }
  for (const words of ['observed', 'hello', 'message']) {
    const found = await callApi(api.baseUrl, 'GET', `/search?q=${words}`, { token: ada });
    assert.equal(found.status, 200, JSON.stringify(found.body));
  }
  const sync = await request(chloeSocket, 'sync', {
    conversations: [{ conversationId, lastMessageId: null }],
  });
  assert.ok(sync.ok, JSON.stringify(sync));
  await waitFor(
    'the webhook retried and delivered',
    async () => failingOnce.bodies.length >= 2,
    30_000,
    100,
  );

  // A call in the group: ada starts it and brian joins, both real LiveKit participants whose
  // joins reach the api as webhooks. Then the media key is lost from Redis (the reconciler
  // replaces it: a correction and a rotation), brian leaves (a rotation), a forged webhook is
  // refused, and ada's leave ends the call (call minutes).
  const callPath = `/conversations/${conversationId}/call`;
  cleanups.push(() => disposeLiveKitClients());
  for (const who of ['ada', 'brian'] as const) {
    const joined = await callApi(api.baseUrl, 'POST', callPath, { token: tokens[who] as string });
    assert.equal(joined.status, 200, JSON.stringify(joined.body));
    const { livekit: room } = joined.body as { livekit: { url: string; token: string } };
    const participant = await joinLiveKit(room.url, room.token);
    cleanups.push(() => participant.leave());
  }
  await waitFor(
    'ada and brian in the call, as LiveKit reported them',
    async () => {
      const live = await callApi(api.baseUrl, 'GET', callPath, { token: ada });
      return live.status === 200 && (live.body.participants as unknown[]).length === 2;
    },
    30_000,
    200,
  );
  const stateAdmin = connectAdmin(state);
  await stateAdmin.del(`quad:call-key:{${conversationId}}`);
  stateAdmin.disconnect();
  await waitFor(
    'the reconciler replacing the media key lost from Redis',
    async () =>
      (await scrapeMetric(worker.baseUrl, 'call_reconciliation_corrections_total', {
        kind: 'redis_key',
      })) > 0,
    30_000,
    200,
  );
  const brianLeft = await callApi(api.baseUrl, 'POST', `${callPath}/leave`, {
    token: tokens.brian as string,
  });
  assert.equal(brianLeft.status, 204, JSON.stringify(brianLeft.body));
  const forged = await fetch(`${api.baseUrl}/api/v1/livekit/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/webhook+json', authorization: 'not a signature' },
    body: JSON.stringify({ event: 'room_finished', id: 'forged' }),
  });
  assert.equal(forged.status, 401);
  const adaLeft = await callApi(api.baseUrl, 'POST', `${callPath}/leave`, { token: ada });
  assert.equal(adaLeft.status, 204, JSON.stringify(adaLeft.body));
  await waitFor(
    'the call ended with its last participant',
    async () => (await callApi(api.baseUrl, 'GET', callPath, { token: ada })).status === 404,
    15_000,
    200,
  );

  // A cache Redis outage: reads keep working from PostgreSQL; the api's breaker opens.
  await cache.stop();
  for (let index = 0; index < 12; index += 1) {
    await callApi(api.baseUrl, 'GET', `/conversations/${conversationId}/messages`, { token: ada });
  }
  await waitFor(
    'the api breaker for the cache Redis open',
    async () => {
      const metrics = await (await fetch(`${api.baseUrl}/metrics`)).text();
      return /redis_breaker_state\{[^}]*redis="cache"[^}]*\} 2/.test(metrics);
    },
    20_000,
    100,
  );
  await cache.restart();
  brianSocket.close();
  log(
    'workload done: logins (with 429s), 11 sends, reads, 3 searches, sync, webhook retry, a call (2 participants, lost key, leave, forged webhook), breaker trip',
  );

  // --- every panel of every dashboard ---------------------------------------------------------
  // A few scrapes after the workload so that every counter has two samples in the window.
  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const dashboardsDir = join(root, 'dashboards');
  const failures: string[] = [];
  let panels = 0;
  let queries = 0;
  const counts: string[] = [];
  for (const file of readdirSync(dashboardsDir)
    .filter((name) => name.endsWith('.json'))
    .sort()) {
    const dashboard = JSON.parse(readFileSync(join(dashboardsDir, file), 'utf8')) as DashboardJson;
    validateDashboard(file, dashboard);
    let dashboardPanels = 0;
    for (const panel of dashboard.panels) {
      if (panel.type === 'row') continue;
      dashboardPanels += 1;
      for (const query of panel.targets ?? []) {
        queries += 1;
        const expr = substitute(query.expr ?? '');
        const answer = await waitFor(
          `${file} "${panel.title}"`,
          async () => {
            const result = await getJson<{
              status: string;
              error?: string;
              data: { result: unknown[] };
            }>(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`);
            return result.data.result.length > 0 ? result : undefined;
          },
          15_000,
          500,
        ).catch((error: unknown) => String(error));
        if (typeof answer === 'string')
          failures.push(`${file} "${panel.title}" ${query.refId}: ${expr}\n    ${answer}`);
      }
    }
    panels += dashboardPanels;
    counts.push(`${dashboard.title}: ${dashboardPanels} panels`);
  }
  for (const line of counts) log(line);
  if (failures.length > 0) throw new Error(`panels without data:\n  ${failures.join('\n  ')}`);
  log(`every panel returns data: ${panels} panels, ${queries} queries`);

  // --- one trace, end to end ----------------------------------------------------------------
  interface JaegerSpan {
    operationName: string;
    processID: string;
  }
  interface JaegerTrace {
    spans: JaegerSpan[];
    processes: Record<string, { serviceName: string }>;
  }
  const expected = [
    // The route as operators know it: the base path once.
    ['quad-api', /^POST \/api\/v1\/conversations\/:id\/messages$/],
    ['quad-api', /^(pg\.query|BEGIN|INSERT|COMMIT)/],
    ['quad-api', /^socket\.io emit message:new$/],
    ['quad-api', /^publish$/],
    ['quad-worker', /^outbox relay delivery$/],
    ['quad-worker', /^outbox relay realtime$/],
    ['quad-worker', /^process delivery/],
    ['quad-worker', /^(pg\.query|SELECT|INSERT)/],
  ] as const;
  const trace = await waitFor(
    `trace ${traceId} with api and worker spans`,
    async () => {
      const found = await getJson<{ data: JaegerTrace[] }>(`${jaeger}/api/traces/${traceId}`).catch(
        () => undefined,
      );
      const candidate = found?.data[0];
      if (!candidate) return undefined;
      const spans = candidate.spans.map((span) => ({
        service: candidate.processes[span.processID]?.serviceName ?? '?',
        name: span.operationName,
      }));
      const complete = expected.every(([service, name]) =>
        spans.some((span) => span.service === service && name.test(span.name)),
      );
      return complete ? spans : undefined;
    },
    60_000,
    500,
  ).catch(async (error: unknown) => {
    const found = await getJson<{ data: JaegerTrace[] }>(`${jaeger}/api/traces/${traceId}`).catch(
      () => undefined,
    );
    const spans = found?.data[0]?.spans.map(
      (span) => `${found.data[0]?.processes[span.processID]?.serviceName} ${span.operationName}`,
    );
    throw new Error(`${String(error)}\nspans found: ${JSON.stringify(spans ?? [])}`);
  });
  log(`trace ${traceId}: ${trace.length} spans`);
  const tally = new Map<string, number>();
  for (const span of trace) {
    const key = `${span.service}  ${span.name}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
  }
  for (const [key, count] of [...tally].sort())
    console.log(`    ${key}${count > 1 ? ` ×${count}` : ''}`);
  // Log lines written inside traced work carry its ids, and Jaeger has that trace: the warnings
  // of the reads during the cache outage.
  for (const service of [api]) {
    const line = service.logs.find((entry) => typeof entry.trace_id === 'string');
    assert.ok(line, `no ${service.name} log line carries a trace_id`);
    const logged = String(line.trace_id);
    await waitFor(
      `the trace of a ${service.name} log line in Jaeger`,
      async () => {
        const found = await getJson<{ data: JaegerTrace[] }>(`${jaeger}/api/traces/${logged}`);
        return (found.data[0]?.spans.length ?? 0) > 0;
      },
      30_000,
      500,
    );
    log(`${service.name} log line "${String(line.msg)}" → trace ${logged} in Jaeger`);
  }

  // --- an alert reaches the receiver ----------------------------------------------------------
  const delivered = await waitFor(
    'QuadWatchdog at the test receiver',
    async () => alerts.bodies.find((body) => body.includes('"alertname":"QuadWatchdog"')),
    60_000,
    200,
  );
  const payload = JSON.parse(delivered) as {
    status: string;
    alerts: Array<{ labels: Record<string, string> }>;
  };
  assert.equal(payload.status, 'firing');
  log(
    `alert delivered through Alertmanager: ${payload.alerts.map((alert) => alert.labels.alertname).join(', ')}`,
  );
}

let exitCode = 0;
try {
  await main();
  log('observability check passed');
} catch (error) {
  exitCode = 1;
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
} finally {
  stopping = true;
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // best effort: the rest still has to stop
    }
  }
  for (const child of children) child.kill('SIGTERM');
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
