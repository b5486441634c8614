import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import { callApi, createAccount, loginAs } from '../harness/api-client.js';
import { freePort } from '../harness/free-port.js';
import { scrapeMetric } from '../harness/service-metrics.js';
import { collectOutput } from '../harness/service-process.js';
import { connectSocket, record, request, waitForEntry } from '../harness/socket-client.js';
import { waitFor } from '../harness/wait-for.js';

// `make dev` end to end: scripts/dev.sh as a real process on free ports in a temporary data
// directory, several times on the same data (later runs must reuse it), stopped like a Ctrl-C,
// healing components killed outright, and stopped by SIGTERM when started from a script.

const root = join(import.meta.dirname, '..', '..');
const READY_TIMEOUT_MS = 150_000;
const STOP_TIMEOUT_MS = 45_000;

const portVariables = [
  'API_PORT',
  'SOCKET_PORT',
  'SOCKET2_PORT',
  'WORKER_PORT',
  'REDIS_PORT',
  'REDIS_CACHE_PORT',
  'POSTGRES_PORT',
  'PROMETHEUS_PORT',
  'EDGE_PORT',
  // Used when tools/bin/livekit-server exists (`make tools`): the stack then runs LiveKit too.
  'LIVEKIT_PORT',
  'REDIS_EXPORTER_PORT',
  'REDIS_CACHE_EXPORTER_PORT',
  'POSTGRES_EXPORTER_PORT',
  'ALERTMANAGER_PORT',
  // Used when tools/bin/jaeger exists (`make tools`).
  'JAEGER_PORT',
  'JAEGER_OTLP_PORT',
] as const;
type PortVariable = (typeof portVariables)[number];

// Variables of the test runner's own environment that would redirect the stack's services.
const inheritedOverrides = [
  'REDIS_URL',
  'REDIS_CACHE_URL',
  'DATABASE_URL',
  'LIVEKIT_URL',
  'LISTEN_HOST',
  'REDIS_USERNAME',
  'REDIS_PASSWORD',
];

interface DevStack {
  child: ChildProcess;
  output(): string;
  exitCode(): number | string | undefined;
  exited: Promise<number | string>;
}

const work = mkdtempSync(join(tmpdir(), 'quad-dev-stack-'));
// As root, PostgreSQL runs as the postgres user, which must be able to reach the data directory.
chmodSync(work, 0o755);
const envFile = join(work, 'env');
const dataDir = join(work, 'data');
const ports = {} as Record<PortVariable, number>;
// With API_INSTANCES=2 and SOCKET_INSTANCES=3, dev.sh derives the second api's port and the
// third gateway's (API_PORT + 10, SOCKET_PORT + 20): chosen free too.
const instancePorts = { api2: 0, socket3: 0 };
let secrets: Record<string, string> = {};
const running = new Set<DevStack>();
const sockets: Socket[] = [];

function tail(text: string, characters = 6_000): string {
  return text.length > characters ? `…${text.slice(-characters)}` : text;
}

/**
 * Starts scripts/dev.sh with its own process group. `inBackgroundOfScript` starts it the way a
 * script's `dev.sh &` does, where the shell makes it ignore SIGINT; then `child` is that shell.
 */
function startDevStack(
  options: { inBackgroundOfScript?: boolean; env?: Record<string, string> } = {},
): DevStack {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    QUAD_ENV_FILE: envFile,
    QUAD_DATA_DIR: dataDir,
    QUAD_DEV_TIMEOUT: String(READY_TIMEOUT_MS / 1_000 - 10),
    ...options.env,
  };
  for (const name of inheritedOverrides) delete env[name];
  // A process group of its own, so that the test can signal everything the way a terminal does.
  const script = join(root, 'scripts/dev.sh');
  const args = options.inBackgroundOfScript
    ? ['-c', '"$0" & echo "dev.sh started as pid $!"; wait "$!"', script]
    : [script];
  const child = spawn('bash', args, {
    cwd: root,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { output, exited } = collectOutput(child);
  let code: number | string | undefined;
  const stack: DevStack = { child, output, exitCode: () => code, exited };
  running.add(stack);
  void exited.then((value) => {
    code = value;
    running.delete(stack);
  });
  return stack;
}

/** Resolves with the seconds dev.sh reported once it prints its ready line; fails fast if it exits. */
async function waitUntilReady(stack: DevStack): Promise<number> {
  let outcome: { seconds: number } | { exited: number | string };
  try {
    outcome = await waitFor(
      'the ready line of scripts/dev.sh',
      async () => {
        const code = stack.exitCode();
        if (code !== undefined) return { exited: code };
        const match = /dev: Quad is ready in (\d+)s/.exec(stack.output());
        return match ? { seconds: Number(match[1]) } : undefined;
      },
      READY_TIMEOUT_MS,
      200,
    );
  } catch (error) {
    throw new Error(`${String(error)}\n--- output ---\n${tail(stack.output())}`);
  }
  if ('exited' in outcome) {
    throw new Error(
      `scripts/dev.sh exited with ${outcome.exited} before it was ready:\n${tail(stack.output())}`,
    );
  }
  return outcome.seconds;
}

/** The exit code once the process ends, or 'still running' after `timeoutMs`. */
async function exitWithin(stack: DevStack, timeoutMs: number): Promise<number | string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, 'still running');
  });
  try {
    return await Promise.race([stack.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends SIGINT to the whole process group, as Ctrl-C in a terminal does, and waits. */
async function interrupt(stack: DevStack): Promise<number | string> {
  const pid = stack.child.pid;
  assert.ok(pid);
  process.kill(-pid, 'SIGINT');
  const code = await exitWithin(stack, STOP_TIMEOUT_MS);
  if (code === 'still running') {
    throw new Error(`scripts/dev.sh still running ${STOP_TIMEOUT_MS} ms after SIGINT`);
  }
  return code;
}

/** A live process (not a zombie) whose command line matches, with its environment. */
function findProcesses(
  commandPattern: RegExp,
): Array<{ pid: number; command: string; environ: string[] }> {
  const found: Array<{ pid: number; command: string; environ: string[] }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (/\) Z /.test(readFileSync(`/proc/${entry}/stat`, 'utf8'))) continue;
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      if (!commandPattern.test(command)) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      found.push({ pid: Number(entry), command, environ });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The pid of the stack's state Redis (redis-server names its address in its process title). */
function stateRedisPid(): number | undefined {
  return findProcesses(new RegExp(`^redis-server .*:${ports.REDIS_PORT}\\b`))[0]?.pid;
}

/** The pid of the stack's first socket gateway. */
function firstGatewayPid(): number | undefined {
  return findProcesses(/services\/socket\/main\.ts/).find(
    ({ environ }) =>
      environ.includes(`QUAD_DATA_DIR=${dataDir}`) &&
      environ.includes(`SOCKET_PORT=${ports.SOCKET_PORT}`),
  )?.pid;
}

function prometheusPidOfThisStack(): number | undefined {
  return findProcesses(/^prometheus /).find(({ command }) => command.includes(dataDir))?.pid;
}

/** Waits until the api, both gateways and the worker all report ready (not degraded). */
async function waitUntilAllReady(what: string, stack: DevStack): Promise<void> {
  try {
    await waitFor(
      what,
      async () => {
        for (const name of ['API_PORT', 'SOCKET_PORT', 'SOCKET2_PORT', 'WORKER_PORT'] as const) {
          if ((await readyz(ports[name])).body.status !== 'ready') return false;
        }
        return true;
      },
      60_000,
      250,
    );
  } catch (error) {
    throw new Error(`${String(error)}\n--- output ---\n${tail(stack.output())}`);
  }
}

async function readyz(port: number): Promise<{ status: number; body: { status?: string } }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`, {
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, body: (await response.json()) as { status?: string } };
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve(true); // no refusal: something holds the port
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Sends commands to Redis over raw TCP (RESP) and returns the first line of each reply. */
function redisReplies(port: number, commands: string[][], timeoutMs = 5_000): Promise<string[]> {
  const encode = (args: string[]) =>
    `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const replies: string[] = [];
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis :${port} answered only ${JSON.stringify(replies)}`));
    }, timeoutMs);
    socket.once('connect', () => socket.write(commands.map(encode).join('')));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let end = buffer.indexOf('\r\n');
      while (end >= 0 && replies.length < commands.length) {
        replies.push(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\r\n');
      }
      if (replies.length === commands.length) {
        clearTimeout(timer);
        socket.end();
        resolve(replies);
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Live processes started for this test's data directory: every component inherits
 * QUAD_DATA_DIR, and the servers name the directory on their command lines.
 */
function processesOfThisStack(): Array<{ pid: number; command: string }> {
  const found: Array<{ pid: number; command: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/\) Z /.test(stat)) continue; // exited, waiting to be reaped
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (environ.includes(`QUAD_DATA_DIR=${dataDir}`) || command.includes(dataDir)) {
        found.push({ pid: Number(entry), command: command.trim() });
      }
    } catch {
      // gone meanwhile, or another user's process we may not read
    }
  }
  return found;
}

async function assertEverythingStopped(stack: DevStack): Promise<void> {
  const open: string[] = [];
  for (const name of portVariables) {
    if (await acceptsConnections(ports[name])) open.push(`${name}=${ports[name]}`);
  }
  for (const [name, port] of Object.entries(instancePorts)) {
    if (await acceptsConnections(port)) open.push(`${name}=${port}`);
  }
  assert.deepEqual(open, [], `ports still open after the stop:\n${tail(stack.output())}`);
  assert.deepEqual(processesOfThisStack(), [], 'no process of the stack is left');
}

before(async () => {
  execFileSync('sh', [join(root, 'scripts/ensure-env.sh'), envFile]);
  const used = new Set<number>();
  const isFree = async (port: number) => !used.has(port) && !(await acceptsConnections(port));
  for (const name of portVariables) {
    // API_PORT and SOCKET_PORT need their derived neighbour free as well.
    const neighbour = name === 'API_PORT' ? 10 : name === 'SOCKET_PORT' ? 20 : 0;
    let port = await freePort();
    while (used.has(port) || (neighbour > 0 && !(await isFree(port + neighbour)))) {
      port = await freePort();
    }
    used.add(port);
    ports[name] = port;
    if (neighbour > 0) used.add(port + neighbour);
  }
  instancePorts.api2 = ports.API_PORT + 10;
  instancePorts.socket3 = ports.SOCKET_PORT + 20;
  let text = readFileSync(envFile, 'utf8');
  for (const name of portVariables) {
    const line = `${name}=${ports[name]}`;
    const pattern = new RegExp(`^${name}=.*$`, 'm');
    text = pattern.test(text) ? text.replace(pattern, line) : `${text.trimEnd()}\n${line}\n`;
  }
  writeFileSync(envFile, text, { mode: 0o600 });
  secrets = Object.fromEntries(
    [...text.matchAll(/^([A-Z_]+)=(.*)$/gm)].map((match) => [match[1] ?? '', match[2] ?? '']),
  );
});

/** On a failure: stop what is still running, then kill whatever is left of it, by pid. */
async function stopRunningStacks() {
  for (const stack of running) {
    const pid = stack.child.pid;
    if (pid === undefined) continue;
    try {
      await interrupt(stack);
    } catch {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

// After each test, not only at the end: a test that failed with its stack up would otherwise
// leave every port taken, and each later test would fail on that instead of on its own.
afterEach(stopRunningStacks);

after(async () => {
  for (const socket of sockets) socket.close();
  await stopRunningStacks();
  for (const { pid } of processesOfThisStack()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(work, { recursive: true, force: true });
});

describe('make dev (scripts/dev.sh): the native stack', () => {
  it('starts everything, enforces the Redis ACL and stops cleanly on SIGINT', {
    timeout: READY_TIMEOUT_MS + STOP_TIMEOUT_MS + 195_000,
  }, async (t) => {
    const started = Date.now();
    const stack = startDevStack();
    const reported = await waitUntilReady(stack);
    t.diagnostic(
      `first run (initdb, migrations) ready after ${Date.now() - started} ms (dev.sh: ${reported}s)`,
    );
    const output = stack.output();
    assert.match(output, /initialising a new PostgreSQL cluster/);

    const api = await readyz(ports.API_PORT);
    assert.equal(api.status, 200);
    assert.equal(api.body.status, 'ready');
    for (const name of ['SOCKET_PORT', 'SOCKET2_PORT', 'WORKER_PORT'] as const) {
      assert.equal((await readyz(ports[name])).body.status, 'ready', name);
    }

    // One URL to open: the edge, with the client's security headers, proxying the api.
    const edge = `http://127.0.0.1:${ports.EDGE_PORT}`;
    assert.match(output, new RegExp(`Open Quad: +${edge}/\n`));
    const page = await fetch(`${edge}/`);
    await page.arrayBuffer();
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    const throughEdge = await fetch(`${edge}/api/v1/openapi.json`);
    assert.equal(throughEdge.status, 200);
    await throughEdge.arrayBuffer();
    // With LiveKit built (`make tools`), its signalling is on the same URL, at /livekit/.
    if (existsSync(join(root, 'tools', 'bin', 'livekit-server'))) {
      const livekit = await waitFor('LiveKit answering through the edge at /livekit/', async () => {
        const response = await fetch(`${edge}/livekit/`);
        const text = await response.text();
        return response.status === 200 && text;
      });
      assert.equal(livekit.trim(), 'OK');
    }

    // Redis never answers without a password, and the service users cannot administer it.
    for (const name of ['REDIS_PORT', 'REDIS_CACHE_PORT'] as const) {
      const [ping] = await redisReplies(ports[name], [['PING']]);
      assert.match(ping ?? '', /^-NOAUTH/, `${name}: unauthenticated PING`);
    }
    const socketPassword = secrets.REDIS_SOCKET_PASSWORD;
    assert.ok(socketPassword);
    const replies = await redisReplies(ports.REDIS_PORT, [
      ['AUTH', 'socket', socketPassword],
      ['PING'],
      ['FLUSHALL'],
      ['CONFIG', 'GET', 'maxmemory'],
    ]);
    assert.equal(replies[0], '+OK');
    assert.equal(replies[1], '+PONG');
    assert.match(replies[2] ?? '', /^-NOPERM/, 'FLUSHALL as socket');
    assert.match(replies[3] ?? '', /^-NOPERM/, 'CONFIG GET as socket');

    // PostgreSQL's Unix socket lives in the data directory, not in /var/run.
    assert.ok(existsSync(join(dataDir, 'postgres', `.s.PGSQL.${ports.POSTGRES_PORT}`)));

    const prometheus = await fetch(`http://127.0.0.1:${ports.PROMETHEUS_PORT}/-/ready`);
    assert.equal(prometheus.status, 200);
    // Every service instance is a target, and Prometheus can scrape it.
    const targets = await waitFor(
      'every Quad target scraped successfully',
      async () => {
        const response = await fetch(
          `http://127.0.0.1:${ports.PROMETHEUS_PORT}/api/v1/targets?state=active`,
        );
        const body = (await response.json()) as {
          data: {
            activeTargets: Array<{
              labels: Record<string, string>;
              health: string;
              scrapeUrl: string;
            }>;
          };
        };
        const quad = body.data.activeTargets.filter((target) => target.labels.job === 'quad');
        return quad.length === 4 && quad.every((target) => target.health === 'up')
          ? quad
          : undefined;
      },
      45_000,
      500,
    );
    assert.deepEqual(targets.map((target) => target.labels.service).sort(), [
      'api',
      'socket',
      'socket',
      'worker',
    ]);
    assert.deepEqual(
      targets.map((target) => new URL(target.scrapeUrl).port).sort(),
      [ports.API_PORT, ports.SOCKET_PORT, ports.SOCKET2_PORT, ports.WORKER_PORT].map(String).sort(),
    );

    // One `service` label per series, as the dashboards group by it (no `exported_service`).
    const query = encodeURIComponent('process_cpu_user_seconds_total{job="quad"}');
    const series = (await (
      await fetch(`http://127.0.0.1:${ports.PROMETHEUS_PORT}/api/v1/query?query=${query}`)
    ).json()) as { data: { result: Array<{ metric: Record<string, string> }> } };
    assert.deepEqual(series.data.result.map(({ metric }) => metric.service).sort(), [
      'api',
      'socket',
      'socket',
      'worker',
    ]);
    assert.ok(series.data.result.every(({ metric }) => !('exported_service' in metric)));

    // The exporters are scraped and reach their servers with their own logins (redis_up and
    // pg_up are 0 when the login fails), and the alert rules reach Alertmanager.
    const prometheusQuery = async (promql: string) => {
      const url = `http://127.0.0.1:${ports.PROMETHEUS_PORT}/api/v1/query?query=${encodeURIComponent(promql)}`;
      const body = (await (await fetch(url)).json()) as {
        data: { result: Array<{ metric: Record<string, string> }> };
      };
      return body.data.result;
    };
    const exporters = await waitFor(
      'redis_exporter (state, cache) and postgres_exporter scraped and logged in',
      async () => {
        const up = await prometheusQuery('redis_up == 1 or pg_up == 1');
        return up.length === 3 ? up : undefined;
      },
      45_000,
      500,
    );
    assert.deepEqual(exporters.map(({ metric }) => metric.redis ?? metric.job).sort(), [
      'cache',
      'postgres',
      'state',
    ]);
    // Prometheus sends a firing alert again only once a minute (its resend delay): a first
    // send made before Alertmanager answered waits for the next, after one evaluation interval
    // (15 s) to fire. 150 s covers two resends on a loaded machine.
    await waitFor(
      'QuadWatchdog in Alertmanager',
      async () => {
        const alerts = await fetch(`http://127.0.0.1:${ports.ALERTMANAGER_PORT}/api/v2/alerts`);
        return (await alerts.text()).includes('"alertname":"QuadWatchdog"');
      },
      150_000,
      500,
    );
    if (existsSync(join(root, 'tools', 'bin', 'jaeger'))) {
      // make dev turns tracing on when it runs Jaeger.
      await waitFor(
        "the api's traces in Jaeger",
        async () => {
          const services = await fetch(`http://127.0.0.1:${ports.JAEGER_PORT}/api/services`);
          return (await services.text()).includes('"quad-api"');
        },
        30_000,
        500,
      );
    }

    // Printed URLs and logs name users, never passwords.
    for (const name of Object.keys(secrets).filter((key) => key.endsWith('_PASSWORD'))) {
      assert.ok(!stack.output().includes(secrets[name] ?? name), `${name} appears in the output`);
    }

    const stopStarted = Date.now();
    const code = await interrupt(stack);
    t.diagnostic(`stopped ${Date.now() - stopStarted} ms after SIGINT`);
    assert.equal(code, 0, tail(stack.output()));
    // The services drain while Redis and PostgreSQL are still up.
    assert.doesNotMatch(stack.output(), /shutdown step failed/);
    await assertEverythingStopped(stack);
  });

  // The second run also runs more instances than the default: 2 apis and 3 gateways, the edge
  // balancing over all of them (one start fewer than a test of its own).
  it('runs again on the same data directory (idempotent first-run steps), with 2 apis and 3 gateways behind the edge', {
    timeout: READY_TIMEOUT_MS + STOP_TIMEOUT_MS + 60_000,
  }, async (t) => {
    const started = Date.now();
    const stack = startDevStack({ env: { API_INSTANCES: '2', SOCKET_INSTANCES: '3' } });
    const reported = await waitUntilReady(stack);
    t.diagnostic(`second run ready after ${Date.now() - started} ms (dev.sh: ${reported}s)`);
    // With the schema already current the services are ready without waiting for the
    // migrate step, which may still be finishing: wait for its line instead of racing it.
    await waitFor('the migrate step on the second run', async () =>
      /schema up to date/.test(stack.output()),
    );
    const output = stack.output();
    assert.doesNotMatch(output, /initialising a new PostgreSQL cluster/);
    assert.doesNotMatch(output, /creating database/);

    const api = await readyz(ports.API_PORT);
    assert.equal(api.status, 200);
    assert.equal(api.body.status, 'ready');

    const apiPorts = [ports.API_PORT, instancePorts.api2];
    const gatewayPorts = [ports.SOCKET_PORT, ports.SOCKET2_PORT, instancePorts.socket3];
    for (const port of [...apiPorts, ...gatewayPorts]) {
      assert.equal((await readyz(port)).body.status, 'ready', `instance on ${port}`);
    }
    assert.match(stack.output(), /behind the edge: 2 api and 3 socket instances/);
    for (const name of ['api-1', 'api-2', 'socket-1', 'socket-2', 'socket-3']) {
      assert.match(stack.output(), new RegExp(`\\n {2}${name} +http://127\\.0\\.0\\.1:\\d+`));
    }

    const edge = `http://127.0.0.1:${ports.EDGE_PORT}`;
    const databaseUrl = `postgres://${encodeURIComponent(secrets.POSTGRES_USER || 'quad')}:${encodeURIComponent(secrets.POSTGRES_PASSWORD ?? '')}@127.0.0.1:${ports.POSTGRES_PORT}/${secrets.POSTGRES_DB || 'quad'}`;

    // Requests through the edge reach both apis (round robin), counted by each api itself. The
    // edge probes each upstream's /readyz every 2 s and its first probe may have come before an
    // api was ready, so an api can sit out a probe interval after the stack says ready: send
    // rounds of 8 until both served some (bounded by several intervals), every request counted.
    const openApiServed = (port: number) =>
      scrapeMetric(`http://127.0.0.1:${port}`, 'http_request_duration_seconds_count', {
        route: '/api/v1/openapi.json',
      });
    const servedBefore = await Promise.all(apiPorts.map(openApiServed));
    let sent = 0;
    let servedEach: number[] = [];
    const edgeDeadline = Date.now() + 10_000;
    do {
      for (let request = 0; request < 8; request++) {
        const response = await fetch(`${edge}/api/v1/openapi.json`);
        assert.equal(response.status, 200);
        await response.arrayBuffer();
        sent += 1;
      }
      const servedAfter = await Promise.all(apiPorts.map(openApiServed));
      servedEach = servedAfter.map((count, index) => count - (servedBefore[index] ?? 0));
      if (servedEach.every((count) => count > 0)) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    } while (Date.now() < edgeDeadline);
    t.diagnostic(`${sent} requests through the edge, served per api: ${servedEach.join(', ')}`);
    assert.equal(
      servedEach.reduce((sum, count) => sum + count, 0),
      sent,
    );
    assert.ok(
      servedEach.every((count) => count > 0),
      `every api served some within 10 s: ${servedEach}`,
    );

    // Sockets through the edge land on every gateway, counted by each gateway itself.
    const people = {} as Record<'cara' | 'dan', { id: string; token: string }>;
    for (const name of ['cara', 'dan'] as const) {
      const account = await createAccount(databaseUrl, name);
      people[name] = { id: account.id, token: (await loginAs(edge, name)).token };
    }
    const groupId = String(
      (
        await callApi(edge, 'POST', '/conversations', {
          token: people.cara.token,
          body: { kind: 'group', title: 'Many instances', memberIds: [people.dan.id] },
        })
      ).body.id,
    );
    const connectionsOn = (port: number) =>
      scrapeMetric(`http://127.0.0.1:${port}`, 'socket_connections');
    const danSockets: Socket[] = [];
    for (let tab = 0; tab < 6; tab++) {
      const socket = await connectSocket(edge, people.dan.token);
      sockets.push(socket);
      danSockets.push(socket);
      const joined = await request(socket, 'conversation:join', { conversationIds: [groupId] });
      assert.deepEqual(joined.refused, []);
    }
    const perGateway = await Promise.all(gatewayPorts.map(connectionsOn));
    t.diagnostic(`6 sockets through the edge, connections per gateway: ${perGateway.join(', ')}`);
    assert.equal(
      perGateway.reduce((sum, count) => sum + count, 0),
      6,
    );
    assert.ok(
      perGateway.every((count) => count > 0),
      `every gateway holds some: ${perGateway}`,
    );

    // A message sent through either api reaches every tab, whichever gateway holds it.
    const received = danSockets.map((socket) =>
      record<{ message: { id: string } }>(socket, 'message:new'),
    );
    for (const text of ['first, through one api', 'second, through the other']) {
      const sent = await callApi(edge, 'POST', `/conversations/${groupId}/messages`, {
        token: people.cara.token,
        body: { body: text, idempotencyKey: crypto.randomUUID() },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      const id = String(sent.body.id);
      for (const list of received) {
        await waitForEntry(list, (event) => event.message.id === id, `${text} on every tab`);
      }
    }
    const sends = await Promise.all(
      apiPorts.map((port) =>
        scrapeMetric(`http://127.0.0.1:${port}`, 'http_request_duration_seconds_count', {
          route: '/api/v1/conversations/:id/messages',
          method: 'POST',
        }),
      ),
    );
    t.diagnostic(`sends served per api: ${sends.join(', ')}`);
    assert.deepEqual(sends, [1, 1], 'round robin: one send through each api');
    for (const socket of danSockets) socket.close();

    const code = await interrupt(stack);
    assert.equal(code, 0, tail(stack.output()));
    await assertEverythingStopped(stack);
  });

  it('restarts a crashed Redis and a crashed gateway by itself; the other gateway keeps delivering', {
    timeout: READY_TIMEOUT_MS + STOP_TIMEOUT_MS + 150_000,
  }, async (t) => {
    const stack = startDevStack();
    await waitUntilReady(stack);
    const databaseUrl = `postgres://${encodeURIComponent(secrets.POSTGRES_USER || 'quad')}:${encodeURIComponent(secrets.POSTGRES_PASSWORD ?? '')}@127.0.0.1:${ports.POSTGRES_PORT}/${secrets.POSTGRES_DB || 'quad'}`;
    const apiUrl = `http://127.0.0.1:${ports.API_PORT}`;
    const people = {} as Record<'ann' | 'ben', { id: string; token: string }>;
    for (const name of ['ann', 'ben'] as const) {
      const account = await createAccount(databaseUrl, name);
      people[name] = { id: account.id, token: (await loginAs(apiUrl, name)).token };
    }
    const group = await callApi(apiUrl, 'POST', '/conversations', {
      token: people.ann.token,
      body: { kind: 'group', title: 'Night shift', memberIds: [people.ben.id] },
    });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    const groupId = String(group.body.id);
    // Ann is on the second gateway, which is never killed: her connection must live through it all.
    const annSocket = await connectSocket(
      `http://127.0.0.1:${ports.SOCKET2_PORT}`,
      people.ann.token,
      {
        reconnection: true,
      },
    );
    sockets.push(annSocket);
    const annDisconnects: string[] = [];
    annSocket.on('disconnect', (reason) => annDisconnects.push(reason));
    const joined = await request(annSocket, 'conversation:join', { conversationIds: [groupId] });
    assert.deepEqual(joined.refused, []);
    const annSees = record<{ message: { id: string } }>(annSocket, 'message:new');

    // Publishes made before every Redis connection is back are dropped (catch-up is the remedy
    // for those), so Ben sends until one reaches Ann.
    const reachesAnn = (what: string) =>
      waitFor(
        what,
        async () => {
          const reply = await callApi(apiUrl, 'POST', `/conversations/${groupId}/messages`, {
            token: people.ben.token,
            body: { body: what, idempotencyKey: crypto.randomUUID() },
          });
          if (reply.status !== 201) return false;
          const id = String(reply.body.id);
          return waitFor(
            "the message on ann's socket",
            async () => annSees.some((event) => event.message.id === id),
            1_000,
          ).catch(() => false);
        },
        60_000,
        250,
      );
    await reachesAnn('a message before any crash');

    const redisPid = stateRedisPid();
    assert.ok(redisPid, 'the state Redis is running');
    process.kill(redisPid, 'SIGKILL');
    const redisKilledAt = Date.now();
    await waitFor(
      'the state Redis running again',
      async () => {
        const pid = stateRedisPid();
        return pid !== undefined && pid !== redisPid;
      },
      30_000,
      100,
    );
    await waitUntilAllReady('every service ready again after the Redis crash', stack);
    t.diagnostic(`ready again ${Date.now() - redisKilledAt} ms after the state Redis was killed`);
    await reachesAnn('a message after the Redis crash');

    const gatewayPid = firstGatewayPid();
    assert.ok(gatewayPid, 'the first gateway is running');
    process.kill(gatewayPid, 'SIGKILL');
    const gatewayKilledAt = Date.now();
    await waitFor(
      'the first gateway running again',
      async () => {
        const pid = firstGatewayPid();
        return pid !== undefined && pid !== gatewayPid;
      },
      30_000,
      100,
    );
    await waitUntilAllReady('every service ready again after the gateway crash', stack);
    t.diagnostic(
      `ready again ${Date.now() - gatewayKilledAt} ms after the first gateway was killed`,
    );
    await reachesAnn('a message after the gateway crash');

    assert.deepEqual(annDisconnects, [], 'ann stayed connected to the surviving gateway');
    const output = stack.output();
    assert.match(output, /component redis restarted/);
    assert.match(output, /component socket-1 restarted/);
    assert.doesNotMatch(
      output,
      /component (?!redis |socket-1 )[\w-]+ restarted/,
      'nothing else restarted',
    );
    annSocket.close();

    // Ctrl-C while a crashed component waits out its restart delay (the third crash: 4 s) must
    // stop that one too when it comes up, not leave it running.
    let prometheusPid = prometheusPidOfThisStack();
    for (let crash = 1; crash <= 3; crash++) {
      assert.ok(prometheusPid, `prometheus is running before crash ${crash}`);
      const killed = prometheusPid;
      process.kill(killed, 'SIGKILL');
      if (crash === 3) break;
      prometheusPid = await waitFor(
        `prometheus running again after crash ${crash}`,
        async () => {
          const pid = prometheusPidOfThisStack();
          return pid !== killed ? pid : undefined;
        },
        30_000,
        100,
      );
    }
    const stopStarted = Date.now();
    const code = await interrupt(stack);
    t.diagnostic(
      `stopped ${Date.now() - stopStarted} ms after SIGINT, prometheus awaiting restart`,
    );
    assert.equal(code, 0, tail(stack.output()));
    await assertEverythingStopped(stack);
  });

  it('stops cleanly on SIGTERM when a script started it in the background (SIGINT ignored)', {
    timeout: READY_TIMEOUT_MS + STOP_TIMEOUT_MS + 30_000,
  }, async (t) => {
    const stack = startDevStack({ inBackgroundOfScript: true });
    await waitUntilReady(stack);
    const pid = Number(/dev\.sh started as pid (\d+)/.exec(stack.output())?.[1]);
    assert.ok(pid > 0, stack.output());
    // The situation under test: the shell made dev.sh ignore SIGINT (bit 2 of SigIgn).
    const ignored = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    assert.ok(ignored?.[1] && (BigInt(`0x${ignored[1]}`) & 2n) === 2n, 'dev.sh ignores SIGINT');

    const stopStarted = Date.now();
    process.kill(pid, 'SIGTERM');
    const code = await exitWithin(stack, 10_000);
    t.diagnostic(`stopped ${Date.now() - stopStarted} ms after SIGTERM`);
    assert.equal(code, 0, tail(stack.output()));
    await assertEverythingStopped(stack);
  });

  it('refuses to start when a port is taken, naming the variable', {
    timeout: 60_000,
  }, async () => {
    const blocker = createServer().listen(ports.API_PORT, '127.0.0.1');
    await once(blocker, 'listening');
    try {
      const stack = startDevStack();
      const code = await exitWithin(stack, 45_000);
      assert.equal(code, 1, stack.output());
      assert.match(stack.output(), new RegExp(`API_PORT=${ports.API_PORT} is already in use`));
      assert.deepEqual(processesOfThisStack(), []);
    } finally {
      blocker.close();
    }
  });
});

describe('scripts/check-deps.sh', () => {
  it('names what is missing and how to get it', () => {
    const result = spawnSync('bash', [join(root, 'scripts/check-deps.sh')], {
      env: { ...process.env, QUAD_PG_BINDIR: join(work, 'no-such-dir') },
      encoding: 'utf8',
    });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /PostgreSQL server programs initdb, postgres, pg_isready/);
    assert.match(result.stderr, /package postgresql/);
    assert.match(result.stderr, /make deps/);
  });

  // The Makefile's pre-flight (make dev, make test) as an unprivileged user, with PostgreSQL made
  // to look missing and recording stand-ins for apt-get and sudo: a sudo that works (no password
  // needed) or one that refuses, as for a user without sudo rights and no terminal to ask on.
  function preflight(sudo: 'works' | 'refuses') {
    const stubs = mkdtempSync(join(tmpdir(), 'quad-preflight-'));
    chmodSync(stubs, 0o755);
    const aptLog = join(stubs, 'apt-get.log');
    writeFileSync(aptLog, '');
    chmodSync(aptLog, 0o666);
    writeFileSync(join(stubs, 'apt-get'), '#!/bin/sh\necho "apt-get $*" >> "$APT_LOG"\n', {
      mode: 0o755,
    });
    writeFileSync(
      join(stubs, 'sudo'),
      sudo === 'works' ? '#!/bin/sh\n[ "$1" = -n ] && shift\nexec "$@"\n' : '#!/bin/sh\nexit 1\n',
      { mode: 0o755 },
    );
    // As root, drop to `nobody`: the pre-flight must not see a root it could use.
    const asUnprivileged =
      process.getuid?.() === 0 ? ['--reuid=nobody', '--regid=nogroup', '--clear-groups'] : [];
    try {
      const result = spawnSync(
        'setpriv',
        [...asUnprivileged, 'bash', join(root, 'scripts/check-deps.sh'), '--install'],
        {
          env: {
            ...process.env,
            PATH: `${stubs}:${process.env.PATH ?? ''}`,
            APT_LOG: aptLog,
            QUAD_PG_BINDIR: join(work, 'no-such-dir'),
          },
          stdio: ['ignore', 'pipe', 'pipe'],
          encoding: 'utf8',
        },
      );
      const aptCalls = readFileSync(aptLog, 'utf8').split('\n').filter(Boolean);
      return { status: result.status, stdout: result.stdout, stderr: result.stderr, aptCalls };
    } finally {
      rmSync(stubs, { recursive: true, force: true });
    }
  }

  it('pre-flight with a working sudo: installs the missing packages itself, showing progress', () => {
    const result = preflight('works');
    assert.deepEqual(result.aptCalls, [
      'apt-get update',
      'apt-get install -y --no-install-recommends redis-server postgresql prometheus caddy prometheus-alertmanager prometheus-redis-exporter prometheus-postgres-exporter procps',
    ]);
    assert.match(result.stderr, /installing the system packages now/);
    assert.match(
      result.stdout,
      /deps: apt-get install redis-server postgresql prometheus caddy prometheus-alertmanager prometheus-redis-exporter prometheus-postgres-exporter procps/,
    );
    // The stand-in installed nothing, so the check after the install still fails.
    assert.equal(result.status, 1);
    assert.match(result.stderr, /PostgreSQL server programs/);
  });

  it('pre-flight without root or a working sudo: installs nothing and names the one command', () => {
    const result = preflight('refuses');
    assert.equal(result.status, 1, result.stderr);
    assert.deepEqual(result.aptCalls, []);
    assert.match(result.stderr, /cannot install packages \(not root, no working sudo\)/);
    assert.match(
      result.stderr,
      /Run as root:\n {2}apt-get update && apt-get install -y --no-install-recommends redis-server postgresql prometheus caddy prometheus-alertmanager prometheus-redis-exporter prometheus-postgres-exporter procps\n/,
    );
  });

  it('passes on this machine and reports what it found', () => {
    const output = execFileSync('bash', [join(root, 'scripts/check-deps.sh')], {
      encoding: 'utf8',
    });
    assert.match(output, /check-deps: ok: redis-server .*PostgreSQL .*prometheus .*node /);
  });
});
