import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { table } from '../bench/bench-support.js';
import { type SeedManifest, seedPassword } from '../services/cli/seed-command.js';
import { callClasses } from './call-plan.js';
import { MIN_SLOPE_RUN_MS, memorySlopeMiBPerHour } from './memory-slope.js';
import type { LoadPlan, PlannedSession } from './plan.js';
import {
  loadScenarios,
  type MixLoad,
  mixListenersOf,
  type Phase,
  type ProfileName,
  type Scenario,
  type ScenarioName,
  scenarioNames,
  type Thresholds,
  thresholdsFor,
} from './scenarios.js';

/**
 * The load runner of this repository: runs a profile of loadtests/scenarios.json with Artillery
 * against a running stack (scripts/loadtest.sh starts and stops one), prints a summary table
 * per scenario and the resources sampled beside the load, and exits 1 when a threshold is
 * breached (with --enforce). Artillery's configurations are generated here from scenarios.json,
 * so there is no second copy of any number.
 *
 * Usage: tsx loadtests/run.ts --profile ci|full|soak --base-url URL --manifest FILE
 *          --work-dir DIR [--enforce] [--scenario NAME [--arrival-rate N] [--duration S]]
 * --scenario runs one scenario of the profile; --arrival-rate and --duration replace its phases
 * by one constant phase (a capacity search: the experiment's numbers, printed with its result,
 * never a second home for the scenarios' own).
 * Reads (for the resource samples, all optional): API_PORT SOCKET_PORT SOCKET2_PORT
 *   WORKER_PORT REDIS_PORT REDIS_CACHE_PORT REDIS_ADMIN_PASSWORD POSTGRES_PORT POSTGRES_USER
 *   POSTGRES_PASSWORD POSTGRES_DB
 */

const root = resolve(import.meta.dirname, '..');
const artilleryBin = join(root, 'loadtests/node_modules/artillery/bin/run');
const SAMPLE_INTERVAL_MS = 2_000;
const LOGIN_CONCURRENCY = 4;

interface Options {
  profile: ProfileName;
  baseUrl: string;
  manifestPath: string;
  workDir: string;
  enforce: boolean;
  scenario?: ScenarioName;
  override?: { arrivalRate: number; duration: number };
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string', default: 'ci' },
      'base-url': { type: 'string' },
      manifest: { type: 'string' },
      'work-dir': { type: 'string' },
      enforce: { type: 'boolean', default: false },
      scenario: { type: 'string' },
      'arrival-rate': { type: 'string' },
      duration: { type: 'string' },
    },
    strict: true,
  });
  const profile = values.profile;
  if (profile !== 'ci' && profile !== 'full' && profile !== 'soak') {
    throw new Error(`--profile must be ci, full or soak, not ${profile}`);
  }
  if (!values['base-url'] || !values.manifest || !values['work-dir']) {
    throw new Error('--base-url, --manifest and --work-dir are required');
  }
  const names: readonly string[] = scenarioNames;
  if (values.scenario !== undefined && !names.includes(values.scenario)) {
    throw new Error(`--scenario must be one of ${names.join(', ')}`);
  }
  const rate = Number(values['arrival-rate']);
  const duration = Number(values.duration);
  const overridden = values['arrival-rate'] !== undefined || values.duration !== undefined;
  if (overridden && !(rate > 0 && Number.isInteger(duration) && duration > 0 && values.scenario)) {
    throw new Error('--arrival-rate and --duration go together, with --scenario, both positive');
  }
  return {
    profile,
    baseUrl: values['base-url'].replace(/\/$/, ''),
    manifestPath: values.manifest,
    workDir: values['work-dir'],
    enforce: values.enforce,
    scenario: values.scenario as ScenarioName | undefined,
    override: overridden ? { arrivalRate: rate, duration } : undefined,
  };
}

async function eachConcurrently<T>(items: readonly T[], work: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: LOGIN_CONCURRENCY }, lane));
}

async function login(baseUrl: string, username: string, password: string): Promise<string> {
  const response = await fetch(`${baseUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const body = (await response.json()) as { token?: string };
  if (!response.ok || !body.token) {
    throw new Error(`login of ${username} answered ${response.status}: ${JSON.stringify(body)}`);
  }
  return body.token;
}

/** The people of the plan: the first members of the first announcement conversation are logged
 *  in (as many as the sessions and listeners need), everyone is a candidate for the morning. */
async function preparePeople(
  options: Options,
  manifest: SeedManifest,
  sessionCount: number,
  listenerCount: number,
) {
  const announcement = manifest.announcements[0];
  if (!announcement) throw new Error('the manifest has no announcement conversation');
  const byName = new Map(manifest.users.map((user) => [user.username, user]));
  const directsOf = new Map<string, string[]>();
  for (const direct of manifest.directs) {
    for (const username of direct.usernames) {
      directsOf.set(username, [...(directsOf.get(username) ?? []), direct.id]);
    }
  }
  const conversationsOf = (username: string) => {
    const user = byName.get(username);
    const classId = user ? manifest.classes[user.classIndex]?.id : undefined;
    if (!user || !classId) throw new Error(`${username} is not in the manifest`);
    return { user, classId, conversationIds: [classId, ...(directsOf.get(username) ?? [])] };
  };
  const wanted = announcement.members.slice(0, Math.max(sessionCount, listenerCount));
  const sessions: PlannedSession[] = [];
  const startedAt = Date.now();
  await eachConcurrently(wanted, async (username) => {
    const { user, classId, conversationIds } = conversationsOf(username);
    const token = await login(
      options.baseUrl,
      username,
      seedPassword(manifest.passwordKey, username),
    );
    const classmates = manifest.classes[user.classIndex]?.memberIds ?? [];
    sessions.push({
      username,
      userId: user.id,
      token,
      classId,
      conversationIds,
      classmateIds: classmates.filter((id) => id !== user.id),
    });
  });
  const ownerToken = await login(
    options.baseUrl,
    announcement.owner,
    seedPassword(manifest.passwordKey, announcement.owner),
  );
  console.log(
    `logged in ${sessions.length + 1} seed users in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
  );
  const logins = manifest.users.map((user) => ({
    username: user.username,
    password: seedPassword(manifest.passwordKey, user.username),
    conversationIds: conversationsOf(user.username).conversationIds,
  }));
  return { sessions, ownerToken, logins, announcementId: announcement.id };
}

type People = Awaited<ReturnType<typeof preparePeople>>;

/** The calls scenario's people, logged in: per class, its participants and its listener. */
async function prepareCallPeople(
  options: Options,
  manifest: SeedManifest,
  classCount: number,
  participants: number,
): Promise<NonNullable<LoadPlan['calls']>['classes']> {
  const idOf = new Map(manifest.users.map((user) => [user.username, user.id]));
  const person = async (username: string) => ({
    userId: idOf.get(username) ?? '',
    token: await login(options.baseUrl, username, seedPassword(manifest.passwordKey, username)),
  });
  const chosen = callClasses(manifest, classCount, participants);
  const classes: NonNullable<LoadPlan['calls']>['classes'] = [];
  const startedAt = Date.now();
  await eachConcurrently(chosen, async (klass) => {
    const people = [];
    for (const username of klass.participants) people.push(await person(username));
    classes.push({
      conversationId: klass.conversationId,
      participants: people,
      listener: await person(klass.listener),
    });
  });
  console.log(
    `logged in ${classes.length * (participants + 1)} students of ${classes.length} classes for calls in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
  );
  return classes;
}

/**
 * Why the stack cannot take calls, or undefined when it can: without LiveKit the api serves no
 * call routes (scripts/dev.sh starts LiveKit only when tools/bin/livekit-server exists).
 */
async function callsUnavailable(baseUrl: string, token: string): Promise<string | undefined> {
  const response = await fetch(`${baseUrl}/api/v1/calls/live`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await response.body?.cancel();
  if (response.ok) return undefined;
  return response.status === 404
    ? 'calls are not configured on this stack: it has no LiveKit, so the api serves no call routes. `make tools` builds tools/bin/livekit-server (needs Go), which scripts/dev.sh, and so scripts/loadtest.sh, then starts'
    : `GET /api/v1/calls/live answered ${response.status}`;
}

/** One Artillery run: its phases and the processor function every arrival runs. */
interface ArtilleryPart {
  label: string;
  phases: Array<Phase | { pause: number } | { duration: number; arrivalCount: number }>;
  flow: string;
}

/** The mix's own phases, or the capacity search's one constant phase, and their length. */
function mixPhases(load: MixLoad, override: Options['override']) {
  const phases = override ? [override] : load.phases;
  return { phases, seconds: phases.reduce((sum, phase) => sum + phase.duration, 0) };
}

/** A mix with listeners: they connect first, over their window; the mix's part opens with a
 *  pause until startAfterSeconds, so that no send happens before they have joined (both parts
 *  start together, the listeners' first). */
function mixWithListenersParts(
  load: MixLoad,
  override: Options['override'],
): ArtilleryPart[] | undefined {
  const mix = mixPhases(load, override);
  const listening = mixListenersOf(load, mix.seconds);
  if (!listening) return undefined;
  return [
    {
      label: 'listeners',
      phases: [{ duration: listening.connectSeconds, arrivalCount: listening.listeners }],
      flow: 'mixListener',
    },
    {
      label: 'mix',
      phases: [{ pause: listening.startAfterSeconds }, ...mix.phases],
      flow: 'mixRequest',
    },
  ];
}

function partsOf(
  scenario: Scenario,
  profile: ProfileName,
  override: Options['override'],
): ArtilleryPart[] {
  const mixLoad = scenario.kind === 'mix' ? scenario[profile] : undefined;
  const withListeners = mixLoad && mixWithListenersParts(mixLoad, override);
  if (withListeners) return withListeners;
  switch (scenario.kind) {
    case 'login':
    case 'mix':
    case 'socket': {
      const load = scenario[profile];
      if (!load) return [];
      const flow = { login: 'morningLogin', mix: 'mixRequest', socket: 'realtimeSession' }[
        scenario.kind
      ];
      return [{ label: scenario.kind, phases: override ? [override] : load.phases, flow }];
    }
    case 'announcement': {
      const load = scenario[profile];
      if (!load) return [];
      return [
        {
          label: 'listeners',
          phases: [{ duration: load.connectSeconds, arrivalCount: load.listeners }],
          flow: 'announcementListener',
        },
        {
          label: 'announcer',
          phases: [
            { pause: load.sendAfterSeconds },
            {
              duration: Math.ceil(load.sends * load.sendIntervalSeconds),
              arrivalCount: load.sends,
            },
          ],
          flow: 'announce',
        },
      ];
    }
    case 'calls': {
      const load = scenario[profile];
      if (!load) return [];
      return [
        {
          label: 'calls',
          phases: override
            ? [override]
            : [{ duration: load.spreadSeconds, arrivalCount: load.calls }],
          flow: 'callSession',
        },
      ];
    }
  }
}

/** How many calls a run of the scenario makes (what its classes are planned for). */
function callCount(scenario: Scenario, profile: ProfileName, override: Options['override']) {
  if (scenario.kind !== 'calls') return 0;
  if (override) return Math.ceil(override.arrivalRate * override.duration);
  return scenario[profile]?.calls ?? 0;
}

function planFor(
  options: Options,
  scenario: Scenario,
  profile: ProfileName,
  people: People,
  mix: LoadPlan['mix'],
  callPeople: { classes: NonNullable<LoadPlan['calls']>['classes']; claimDir: string } | undefined,
): LoadPlan {
  const plan: LoadPlan = {
    baseUrl: options.baseUrl,
    mix,
    sessions: people.sessions,
    logins: people.logins,
  };
  if (scenario.kind === 'mix') {
    const load = scenario[profile];
    const listening = load && mixListenersOf(load, mixPhases(load, options.override).seconds);
    if (listening) {
      plan.mixListeners = {
        holdSeconds: listening.holdSeconds,
        listeners: people.sessions
          .slice(0, listening.listeners)
          .map(({ token, conversationIds }) => ({ token, conversationIds })),
      };
    }
  }
  if (scenario.kind === 'socket') {
    const load = scenario[profile];
    if (load)
      plan.socket = { holdSeconds: load.holdSeconds, sends: load.sends, typing: load.typing };
  }
  if (scenario.kind === 'announcement') {
    const load = scenario[profile];
    if (load) {
      plan.announcement = {
        conversationId: people.announcementId,
        ownerToken: people.ownerToken,
        holdSeconds: load.holdSeconds,
        listeners: people.sessions.slice(0, load.listeners).map(({ token }) => ({ token })),
      };
    }
  }
  if (scenario.kind === 'calls') {
    const load = scenario[profile];
    if (load && callPeople) {
      plan.calls = {
        participants: load.participants,
        holdSeconds: load.holdSeconds,
        claimDir: callPeople.claimDir,
        classes: callPeople.classes,
      };
    }
  }
  return plan;
}

interface Summary {
  min?: number;
  max?: number;
  count?: number;
  p50?: number;
  p95?: number;
  p99?: number;
}
interface ArtilleryReport {
  aggregate: { counters?: Record<string, number>; summaries?: Record<string, Summary> };
}

async function runArtillery(
  workDir: string,
  name: string,
  part: ArtilleryPart,
  options: Options,
  planPath: string,
): Promise<ArtilleryReport> {
  const configPath = join(workDir, `${name}-${part.label}.artillery.json`);
  const reportPath = join(workDir, `${name}-${part.label}.report.json`);
  const logPath = join(workDir, `${name}-${part.label}.log`);
  const config = {
    config: {
      target: options.baseUrl,
      phases: part.phases,
      processor: join(root, 'loadtests/artillery/processor.mjs'),
    },
    scenarios: [{ name: `${name} ${part.label}`, flow: [{ function: part.flow }] }],
  };
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const log = await open(logPath, 'w');
  const child = spawn(
    process.execPath,
    [artilleryBin, 'run', '--quiet', '--output', reportPath, configPath],
    {
      cwd: root,
      stdio: ['ignore', log.fd, log.fd],
      env: {
        ...process.env,
        // Artillery reports usage to its vendor unless told not to; nothing leaves this host.
        ARTILLERY_DISABLE_TELEMETRY: 'true',
        QUAD_LOADTEST_PLAN: planPath,
      },
    },
  );
  const code = await new Promise<number>((done) => child.on('exit', (status) => done(status ?? 1)));
  await log.close();
  if (code !== 0) {
    const tail = (await readFile(logPath, 'utf8')).split('\n').slice(-30).join('\n');
    throw new Error(
      `artillery (${name} ${part.label}) exited ${code}; its log ${logPath}:\n${tail}`,
    );
  }
  return JSON.parse(await readFile(reportPath, 'utf8')) as ArtilleryReport;
}

/** Per-process and per-server resources, sampled beside the load. */
interface Sample {
  /** Milliseconds since the epoch. */
  at: number;
  rssBytes: Record<string, number>;
  loopLagP99Seconds: Record<string, number>;
  redisUsedBytes: Record<string, number>;
  postgresConnections?: number;
}

function resourceSampler() {
  const env = process.env;
  const services = Object.entries({
    api: env.API_PORT,
    'socket-1': env.SOCKET_PORT,
    'socket-2': env.SOCKET2_PORT,
    worker: env.WORKER_PORT,
  }).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '');
  const redises = Object.entries({ state: env.REDIS_PORT, cache: env.REDIS_CACHE_PORT })
    .filter((entry): entry is [string, string] => Boolean(entry[1] && env.REDIS_ADMIN_PASSWORD))
    .map(
      ([role, port]) =>
        [
          role,
          new Redis({
            host: '127.0.0.1',
            port: Number(port),
            password: env.REDIS_ADMIN_PASSWORD,
            lazyConnect: true,
            maxRetriesPerRequest: 1,
          }),
        ] as const,
    );
  const postgres =
    env.POSTGRES_PORT && env.POSTGRES_USER
      ? new pg.Pool({
          host: '127.0.0.1',
          port: Number(env.POSTGRES_PORT),
          user: env.POSTGRES_USER,
          password: env.POSTGRES_PASSWORD,
          database: env.POSTGRES_DB,
          max: 1,
        })
      : undefined;

  const metricValue = (text: string, name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line ? Number(line.split(' ').at(-1)) : undefined;
  };

  async function sample(): Promise<Sample> {
    const taken: Sample = {
      at: Date.now(),
      rssBytes: {},
      loopLagP99Seconds: {},
      redisUsedBytes: {},
    };
    await Promise.all([
      ...services.map(async ([name, port]) => {
        try {
          const text = await (
            await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(1500) })
          ).text();
          const rss = metricValue(text, 'process_resident_memory_bytes');
          const lag = metricValue(text, 'nodejs_eventloop_lag_p99_seconds');
          if (rss !== undefined) taken.rssBytes[name] = rss;
          if (lag !== undefined) taken.loopLagP99Seconds[name] = lag;
        } catch {
          // A missed sample is a gap in the table, not a failure of the load test.
        }
      }),
      ...redises.map(async ([role, client]) => {
        try {
          const info = await client.info('memory');
          const used = /used_memory:(\d+)/.exec(info)?.[1];
          if (used) taken.redisUsedBytes[role] = Number(used);
        } catch {}
      }),
      (async () => {
        try {
          const result = await postgres?.query<{ count: string }>(
            'SELECT count(*) FROM pg_stat_activity WHERE backend_type = $1',
            ['client backend'],
          );
          if (result) taken.postgresConnections = Number(result.rows[0]?.count);
        } catch {}
      })(),
    ]);
    return taken;
  }

  return {
    /** Samples every SAMPLE_INTERVAL_MS until the returned stop() is called. */
    start() {
      const samples: Sample[] = [];
      let running = true;
      const loop = (async () => {
        while (running) {
          samples.push(await sample());
          await new Promise((done) => setTimeout(done, SAMPLE_INTERVAL_MS));
        }
      })();
      return async () => {
        running = false;
        await loop;
        samples.push(await sample());
        return samples;
      };
    },
    async close() {
      for (const [, client] of redises) client.disconnect();
      await postgres?.end();
    },
  };
}

interface Verdict {
  scenario: string;
  metric: string;
  value: string;
  threshold: string;
  ok: boolean;
}

const ms = (value: number | undefined) => (value === undefined ? '-' : `${Math.round(value)}`);

/** The metric (quad.<name>.ms|received) of a scenario's live deliveries, where it is not
 *  `delivery` (messages received live). */
const liveDeliveriesOf: Partial<Record<string, string>> = {
  announcement: 'announcement',
  calls: 'call-event',
};

/** Rows of the summary table from one scenario's reports, and the thresholds judged. */
function judge(name: string, thresholds: Thresholds, reports: ArtilleryReport[]) {
  const counters: Record<string, number> = {};
  const summaries: Record<string, Summary> = {};
  for (const report of reports) {
    for (const [key, value] of Object.entries(report.aggregate.counters ?? {})) {
      counters[key] = (counters[key] ?? 0) + value;
    }
    Object.assign(summaries, report.aggregate.summaries ?? {});
  }
  const groups = [
    'login',
    'read',
    'write',
    'connect',
    'ack',
    'call-join',
    'call-key',
    'call-leave',
    'livekit-connect',
  ].filter((group) => (counters[`quad.${group}.attempts`] ?? 0) > 0);
  const rows: Array<Summary & { group: string; attempts: number; failed?: number }> = groups.map(
    (group) => {
      const attempts = counters[`quad.${group}.attempts`] ?? 0;
      const failed = counters[`quad.${group}.failed`] ?? 0;
      const latency = summaries[`quad.${group}.ms`] ?? {};
      return { group, attempts, failed, ...latency };
    },
  );
  const listeners = counters['quad.listeners.connected'];
  if (listeners !== undefined) {
    // Connected and joined for the whole scenario; failed: dropped before the end.
    rows.push({
      group: 'listeners connected',
      attempts: listeners,
      failed: counters['quad.listeners.dropped'] ?? 0,
    });
  }
  for (const [key, latency] of Object.entries(summaries).sort()) {
    const action = /^quad\.action\.(.+)\.ms$/.exec(key)?.[1];
    if (action)
      rows.push({ group: `  ${action}`, attempts: latency.count ?? 0, failed: 0, ...latency });
  }
  for (const deliveries of ['delivery', 'announcement', 'call-event']) {
    const latency = summaries[`quad.${deliveries}.ms`];
    if (latency) {
      rows.push({
        group: `${deliveries} (live)`,
        attempts: latency.count ?? 0,
        failed: 0,
        ...latency,
      });
    }
  }

  const verdicts: Verdict[] = [];
  const attempts = groups.reduce((sum, g) => sum + (counters[`quad.${g}.attempts`] ?? 0), 0);
  const failed = groups.reduce((sum, g) => sum + (counters[`quad.${g}.failed`] ?? 0), 0);
  const errorRate = attempts === 0 ? 1 : failed / attempts;
  verdicts.push({
    scenario: name,
    metric: 'error rate',
    value: `${(errorRate * 100).toFixed(3)} % of ${attempts}`,
    threshold: `< ${(thresholds.errorRate * 100).toFixed(3)} %`,
    ok: attempts > 0 && errorRate <= thresholds.errorRate,
  });
  const p99Check = (metric: string, key: string, limit: number | undefined) => {
    if (limit === undefined) return;
    const p99 = summaries[key]?.p99;
    verdicts.push({
      scenario: name,
      metric,
      value: p99 === undefined ? 'no samples' : `${ms(p99)} ms`,
      threshold: `< ${limit} ms`,
      ok: p99 !== undefined && p99 < limit,
    });
  };
  for (const [group, limit] of Object.entries(thresholds.p99Ms ?? {})) {
    p99Check(`${group} p99`, `quad.${group}.ms`, limit);
  }
  p99Check('connect p99', 'quad.connect.ms', thresholds.connectP99Ms);
  p99Check('ack p99', 'quad.ack.ms', thresholds.ackP99Ms);
  const deliveries = liveDeliveriesOf[name] ?? 'delivery';
  p99Check('delivery p99', `quad.${deliveries}.ms`, thresholds.deliveryP99Ms);
  if (thresholds.deliveryRatio !== undefined) {
    // Announcements: every one to every listener; calls: what each listener was owed.
    const expected =
      name === 'calls'
        ? (counters['quad.call-event.expected'] ?? 0)
        : (counters['quad.announcement.sent'] ?? 0) *
          (counters['quad.announcement.listeners'] ?? 0);
    const received = counters[`quad.${deliveries}.received`] ?? 0;
    const ratio = expected === 0 ? 0 : received / expected;
    verdicts.push({
      scenario: name,
      metric: 'deliveries received',
      value: `${received} of ${expected} (${(ratio * 100).toFixed(2)} %)`,
      threshold: `>= ${(thresholds.deliveryRatio * 100).toFixed(1)} %`,
      ok: expected > 0 && ratio >= thresholds.deliveryRatio,
    });
  }
  return { rows, verdicts, counters };
}

const mib = (bytes: number | undefined) =>
  bytes === undefined ? '-' : `${(bytes / 1024 / 1024).toFixed(1)}`;

/** A memory series' bytes in one sample: `redis <role>` names a Redis, anything else a service. */
function bytesOf(sample: Sample, process: string): number | undefined {
  return process.startsWith('redis ')
    ? sample.redisUsedBytes[process.slice('redis '.length)]
    : sample.rssBytes[process];
}

/** Each sampled memory series of a run: every service's RSS and every Redis's used_memory. */
function memorySeries(
  samples: Sample[],
): Array<{ process: string; points: Array<[number, number]> }> {
  const names = new Set<string>();
  for (const s of samples) {
    for (const service of Object.keys(s.rssBytes)) names.add(service);
    for (const role of Object.keys(s.redisUsedBytes)) names.add(`redis ${role}`);
  }
  return [...names].map((process) => ({
    process,
    points: samples.flatMap((s): Array<[number, number]> => {
      const bytes = bytesOf(s, process);
      return bytes === undefined ? [] : [[s.at, bytes]];
    }),
  }));
}

function resourceRows(name: string, samples: Sample[]): string[][] {
  const maxOf = (values: Array<number | undefined>) => {
    const present = values.filter((v): v is number => v !== undefined);
    return present.length === 0 ? undefined : Math.max(...present);
  };
  const rows = memorySeries(samples).map(({ process, points }) => {
    const slope = memorySlopeMiBPerHour(points);
    const lag = process.startsWith('redis ')
      ? undefined
      : maxOf(samples.map((s) => s.loopLagP99Seconds[process]));
    return [
      name,
      process,
      `${mib(points[0]?.[1])} -> ${mib(points.at(-1)?.[1])} (max ${mib(maxOf(points.map(([, bytes]) => bytes)))})`,
      slope === undefined ? '-' : slope.toFixed(1),
      lag === undefined ? '-' : ms(lag * 1000),
    ];
  });
  const connections = maxOf(samples.map((s) => s.postgresConnections));
  if (connections !== undefined) {
    rows.push([name, 'postgres', `${connections} client connections at most`, '-', '-']);
  }
  return rows;
}

/** The samples as CSV (one row per sample, MiB), kept in the work directory for a plot. */
function samplesCsv(samples: Sample[]): string {
  const series = memorySeries(samples).map((s) => s.process);
  const header = ['seconds', ...series.map((p) => `${p} MiB`), 'postgres connections'];
  const start = samples[0]?.at ?? 0;
  const lines = samples.map((s) => [
    ((s.at - start) / 1000).toFixed(0),
    ...series.map((p) => {
      const bytes = bytesOf(s, p);
      return bytes === undefined ? '' : (bytes / 1024 / 1024).toFixed(2);
    }),
    s.postgresConnections === undefined ? '' : String(s.postgresConnections),
  ]);
  return `${[header, ...lines].map((l) => l.join(',')).join('\n')}\n`;
}

function memoryVerdicts(name: string, limit: number | undefined, samples: Sample[]): Verdict[] {
  if (limit === undefined) return [];
  return memorySeries(samples).map(({ process, points }) => {
    const slope = memorySlopeMiBPerHour(points);
    return {
      scenario: name,
      metric: `${process} memory slope`,
      value: slope === undefined ? 'run too short' : `${slope.toFixed(1)} MiB/h`,
      threshold: `< ${limit} MiB/h`,
      ok: slope !== undefined && slope < limit,
    };
  });
}

async function main() {
  const options = parseOptions();
  const scenarios = loadScenarios();
  const manifest = JSON.parse(await readFile(options.manifestPath, 'utf8')) as SeedManifest;
  if (!manifest.complete) {
    throw new Error(
      `${options.manifestPath} is from a seed that did not finish: run quad seed again`,
    );
  }
  await mkdir(options.workDir, { recursive: true });
  const names = scenarios.profiles[options.profile].filter(
    (name) => options.scenario === undefined || name === options.scenario,
  );
  if (names.length === 0) throw new Error(`profile ${options.profile} has no ${options.scenario}`);
  const sessionCount = options.profile === 'ci' ? scenarios.sessions.ci : scenarios.sessions.full;
  const listenerCount = Math.max(
    0,
    ...names.map((name) => {
      const scenario = scenarios.scenarios[name];
      return scenario.kind === 'announcement' || scenario.kind === 'mix'
        ? (scenario[options.profile]?.listeners ?? 0)
        : 0;
    }),
  );
  console.log(
    `load profile ${options.profile}: ${names.join(', ')} against ${options.baseUrl} (${manifest.users.length} seed users)`,
  );
  const people = await preparePeople(options, manifest, sessionCount, listenerCount);
  const calls = scenarios.scenarios.calls;
  const callLoad =
    names.includes('calls') && calls.kind === 'calls' ? calls[options.profile] : undefined;
  const callClassCount = callCount(calls, options.profile, options.override);
  const unavailable = callLoad
    ? await callsUnavailable(options.baseUrl, people.ownerToken)
    : undefined;
  const callPeople =
    callLoad && !unavailable
      ? {
          classes: await prepareCallPeople(
            options,
            manifest,
            callClassCount,
            callLoad.participants,
          ),
          claimDir: join(options.workDir, 'call-claims'),
        }
      : undefined;
  const sampler = resourceSampler();
  const verdicts: Verdict[] = [];
  const resultRows: string[][] = [];
  const resources: string[][] = [];
  try {
    for (const name of names as ScenarioName[]) {
      const scenario = scenarios.scenarios[name];
      if (name === 'calls' && unavailable) {
        // Failed, not skipped: a profile that lists calls promises them.
        console.log(`calls NOT RUN: ${unavailable}`);
        verdicts.push({
          scenario: name,
          metric: 'calls configured',
          value: 'no LiveKit (`make tools`)',
          threshold: 'LiveKit running',
          ok: false,
        });
        continue;
      }
      if (callPeople) {
        await rm(callPeople.claimDir, { recursive: true, force: true });
        await mkdir(callPeople.claimDir, { recursive: true });
      }
      const plan = planFor(
        options,
        scenario,
        options.profile,
        people,
        scenarios.mix.actions,
        callPeople,
      );
      const planPath = join(options.workDir, `${name}.plan.json`);
      await writeFile(planPath, JSON.stringify(plan), { mode: 0o600 });
      const parts = partsOf(scenario, options.profile, options.override);
      const startedAt = Date.now();
      console.log(
        `running ${name}: ${scenario.description}${options.override ? ` (capacity search: ${options.override.arrivalRate}/s for ${options.override.duration} s instead of the profile's phases)` : ''}`,
      );
      const stopSampling = sampler.start();
      const reports = await Promise.all(
        parts.map((part) => runArtillery(options.workDir, name, part, options, planPath)),
      );
      const samples = await stopSampling();
      const thresholds = thresholdsFor(scenario, options.profile);
      const judged = judge(name, thresholds, reports);
      await writeFile(join(options.workDir, `${name}.resources.csv`), samplesCsv(samples));
      const seconds = (Date.now() - startedAt) / 1000;
      console.log(`  ${name} done in ${seconds.toFixed(0)} s`);
      for (const row of judged.rows) {
        resultRows.push([
          name,
          row.group,
          String(row.attempts),
          row.failed === undefined ? '-' : String(row.failed),
          ms(row.p50),
          ms(row.p95),
          ms(row.p99),
          ms(row.max),
        ]);
      }
      verdicts.push(...judged.verdicts);
      verdicts.push(...memoryVerdicts(name, thresholds.memorySlopeMiBPerHour, samples));
      resources.push(...resourceRows(name, samples));
    }
  } finally {
    await sampler.close();
  }

  console.log("\nresults (latencies in ms; live deliveries from the server event's emittedAt)\n");
  console.log(
    table(['scenario', 'what', 'count', 'failed', 'p50', 'p95', 'p99', 'max'], resultRows),
  );
  console.log(
    `\nresources beside the load (RSS and Redis used_memory in MiB: first -> last; slope after the first quarter, for runs of ${MIN_SLOPE_RUN_MS / 60_000} minutes or more; samples in ${options.workDir}/<scenario>.resources.csv)\n`,
  );
  console.log(
    table(
      ['scenario', 'process', 'memory MiB', 'slope MiB/h', 'event-loop lag p99 ms (max)'],
      resources,
    ),
  );
  console.log('\nthresholds (loadtests/scenarios.json)\n');
  console.log(
    table(
      ['scenario', 'metric', 'value', 'threshold', 'verdict'],
      verdicts.map((v) => [v.scenario, v.metric, v.value, v.threshold, v.ok ? 'met' : 'BREACHED']),
    ),
  );
  const breached = verdicts.filter((v) => !v.ok);
  if (unavailable) console.log(`\ncalls NOT RUN: ${unavailable}`);
  if (breached.length > 0) {
    console.log(`\n${breached.length} threshold(s) breached`);
    if (options.enforce) process.exitCode = 1;
  } else {
    console.log('\nevery threshold met');
  }
}

await main();
