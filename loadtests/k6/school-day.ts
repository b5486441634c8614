// Quad's load scenarios for your own k6 (k6 v1 runs TypeScript as it is). Every number (the
// school-day mix, arrival rates, durations, thresholds) comes from ../scenarios.json, the same
// file the load runner of Quad's repository reads, so the two cannot drift. docs/load-testing.md
// says how to seed a test institution (`quad seed`), raise the rate limits for the test, and
// run this:
//
//   k6 run -e BASE_URL=https://quad.test.school.example -e SEED_MANIFEST=./seed-manifest.json \
//     -e SCENARIO=steady -e PROFILE=full loadtests/k6/school-day.ts
//
// SCENARIO: morning-burst | steady | realtime | announcement | calls | soak (default steady)
// PROFILE:  full | ci | soak (default full; soak for SCENARIO=soak)
import { check, sleep } from 'k6';
import crypto from 'k6/crypto';
import execution from 'k6/execution';
import http, { type Params, type RefinedResponse, type ResponseType } from 'k6/http';
import { Counter, Rate, Trend } from 'k6/metrics';
import type { Scenario as K6Scenario, Options } from 'k6/options';
import { setTimeout } from 'k6/timers';
import type {
  LoadProfile,
  Manifest,
  MixAction,
  MixLoad,
  Phase,
  ScenariosFile,
} from './scenarios-file.ts';
import { type Payload, SocketIoClient } from './socketio.ts';

const file = JSON.parse(open('../scenarios.json')) as ScenariosFile;
const manifest = JSON.parse(open(__ENV.SEED_MANIFEST || './seed-manifest.json')) as Manifest;
const baseUrl = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const scenarioName = __ENV.SCENARIO || 'steady';
const profile = (__ENV.PROFILE || (scenarioName === 'soak' ? 'soak' : 'full')) as LoadProfile;
const scenario = file.scenarios[scenarioName];
if (!scenario) throw new Error(`unknown SCENARIO ${scenarioName}`);
const load = scenario[profile];
if (!load) throw new Error(`scenario ${scenarioName} has no ${profile} profile`);

/** From the server event's emittedAt (the publisher's clock: keep the load generator's clock in
 *  sync with the servers', e.g. NTP, or read this as an upper bound). */
const delivery = new Trend('quad_delivery_ms', true);
const connectTime = new Trend('quad_connect_ms', true);
const ackTime = new Trend('quad_ack_ms', true);
const deliveries = new Counter('quad_deliveries');
/** One sample per delivery owed (an announcement to a listener, a call event to a classmate):
 *  true when it arrived. Its rate is scenarios.json's deliveryRatio. */
const delivered = new Rate('quad_delivered');

const seconds = (n: number) => `${n}s`;

/** scenarios.json's phases as a ramping-arrival-rate executor: one iteration per arrival. */
function arrivals(phases: Phase[], exec: string, holdSeconds = 2): K6Scenario {
  const peak = Math.max(...phases.map((p) => Math.max(p.arrivalRate, p.rampTo ?? 0)));
  return {
    executor: 'ramping-arrival-rate',
    exec,
    startRate: phases[0]?.arrivalRate ?? 1,
    timeUnit: '1s',
    preAllocatedVUs: Math.ceil(peak * holdSeconds) + 5,
    maxVUs: Math.ceil(peak * (holdSeconds + 10)) + 20,
    stages: phases.flatMap((p) => [
      { target: p.arrivalRate, duration: '0s' },
      { target: p.rampTo ?? p.arrivalRate, duration: seconds(p.duration) },
    ]),
  };
}

const listenersConnected = new Counter('quad_listeners_connected');

/** A mix load's listeners, when it has them, and how long they stay from the scenarios' start:
 *  until the mix's last arrival, plus the margin the mix waited after their connect window
 *  (loadtests/scenarios.ts, mixListenersOf, is the runner's same rule). */
function mixListening(mixLoad: MixLoad) {
  const { listeners, connectSeconds, startAfterSeconds } = mixLoad;
  if (listeners === undefined || connectSeconds === undefined || startAfterSeconds === undefined) {
    return undefined;
  }
  const mixSeconds = mixLoad.phases.reduce((sum, p) => sum + p.duration, 0);
  const holdSeconds = startAfterSeconds + mixSeconds + (startAfterSeconds - connectSeconds);
  return { listeners, connectSeconds, startAfterSeconds, holdSeconds };
}
const listening =
  load && scenario.kind === 'mix' && 'phases' in load ? mixListening(load) : undefined;

/** The mix with students online: they connect over their window (one iteration each, held
 *  open), and the mix's arrivals start once they have, so no send goes unheard. */
function mixWithListeners(phases: Phase[]): Record<string, K6Scenario> {
  if (!listening) return {};
  return {
    listeners: {
      executor: 'constant-arrival-rate',
      exec: 'mixListener',
      rate: listening.listeners,
      timeUnit: seconds(listening.connectSeconds),
      duration: seconds(listening.connectSeconds),
      preAllocatedVUs: listening.listeners,
      // Each iteration is a socket held to the end: k6 must not stop it after the window.
      gracefulStop: seconds(listening.holdSeconds),
    },
    [scenarioName]: {
      ...arrivals(phases, 'mixRequest'),
      startTime: seconds(listening.startAfterSeconds),
    },
  };
}

function k6Scenarios(): Record<string, K6Scenario> {
  if (!load || !scenario) return {};
  if (listening && 'phases' in load) return mixWithListeners(load.phases);
  if ('sendAfterSeconds' in load) {
    return {
      listeners: {
        executor: 'constant-arrival-rate',
        exec: 'announcementListener',
        rate: load.listeners,
        timeUnit: seconds(load.connectSeconds),
        duration: seconds(load.connectSeconds),
        preAllocatedVUs: load.listeners,
      },
      announcer: {
        executor: 'constant-arrival-rate',
        exec: 'announce',
        rate: 1,
        timeUnit: seconds(load.sendIntervalSeconds),
        duration: seconds(Math.ceil(load.sends * load.sendIntervalSeconds)),
        startTime: seconds(load.sendAfterSeconds),
        preAllocatedVUs: 2,
      },
    };
  }
  if ('participants' in load) {
    return {
      calls: {
        executor: 'constant-arrival-rate',
        exec: 'callSession',
        rate: load.calls,
        timeUnit: seconds(load.spreadSeconds),
        duration: seconds(load.spreadSeconds),
        // One VU per call, so that each call has a class of its own (see callSession).
        preAllocatedVUs: load.calls,
      },
    };
  }
  if ('holdSeconds' in load) {
    return { realtime: arrivals(load.phases, 'realtimeSession', load.holdSeconds) };
  }
  const exec = scenario.kind === 'login' ? 'morningLogin' : 'mixRequest';
  return { [scenarioName]: arrivals(load.phases, exec) };
}

function k6Thresholds(): Record<string, string[]> {
  if (!scenario || !load) return {};
  const t = { ...scenario.thresholds, ...load.thresholds };
  const thresholds: Record<string, string[]> = {
    http_req_failed: [`rate<${t.errorRate}`],
    checks: [`rate>${1 - t.errorRate}`],
  };
  for (const [group, limit] of Object.entries(t.p99Ms ?? {})) {
    thresholds[`http_req_duration{group:${group}}`] = [`p(99)<${limit}`];
  }
  if (t.connectP99Ms) thresholds.quad_connect_ms = [`p(99)<${t.connectP99Ms}`];
  if (t.ackP99Ms) thresholds.quad_ack_ms = [`p(99)<${t.ackP99Ms}`];
  if (t.deliveryP99Ms) thresholds.quad_delivery_ms = [`p(99)<${t.deliveryP99Ms}`];
  if (t.deliveryRatio !== undefined) thresholds.quad_delivered = [`rate>=${t.deliveryRatio}`];
  return thresholds;
}

export const options: Options = {
  scenarios: k6Scenarios(),
  thresholds: k6Thresholds(),
  // Logging the test's people in before the load takes a while on a big seed.
  setupTimeout: '10m',
};

/** The seed's passwords: hex(HMAC-SHA256(passwordKey, username)), first 32 characters. */
const passwordOf = (username: string) =>
  crypto.hmac('sha256', manifest.passwordKey, username, 'hex').slice(0, 32);

const pick = <T>(items: readonly T[]): T => {
  const item = items[Math.floor(Math.random() * items.length)];
  if (item === undefined) throw new Error('nothing to pick from');
  return item;
};

interface Session {
  token: string;
  classId: string;
  conversationIds: string[];
  classmateIds: string[];
}

const directsOf = new Map<string, string[]>();
for (const direct of manifest.directs) {
  for (const username of direct.usernames) {
    directsOf.set(username, [...(directsOf.get(username) ?? []), direct.id]);
  }
}
const userByName = new Map(manifest.users.map((user) => [user.username, user]));

function conversationsOf(username: string) {
  const user = userByName.get(username);
  const klass = user ? manifest.classes[user.classIndex] : undefined;
  if (!user || !klass) throw new Error(`${username} is not in the manifest`);
  return {
    classId: klass.id,
    conversationIds: [klass.id, ...(directsOf.get(username) ?? [])],
    classmateIds: klass.memberIds.filter((id) => id !== user.id),
  };
}

function login(username: string): string | undefined {
  const response = http.post(
    `${baseUrl}/api/v1/auth/login`,
    JSON.stringify({ username, password: passwordOf(username) }),
    { headers: { 'content-type': 'application/json' }, tags: { group: 'login' } },
  );
  check(response, { 'login answers 200': (r) => r.status === 200 });
  const token = response.status === 200 ? response.json('token') : undefined;
  return typeof token === 'string' ? token : undefined;
}

/** A class of the calls scenario, logged in: students who call, one who listens, the teacher. */
interface CallClass {
  conversationId: string;
  participantTokens: string[];
  listenerToken: string;
  teacherToken: string;
}

/** As loadtests/call-plan.ts (callClasses) picks them: the first classes with room for the
 *  participants and a listener, students only; one class per call, so calls never share one. */
function callClasses(count: number, participants: number): CallClass[] {
  const classes: CallClass[] = [];
  for (const [index, klass] of manifest.classes.entries()) {
    if (classes.length === count) break;
    const students = manifest.users
      .filter((user) => user.classIndex === index && user.role === 'student')
      .map((user) => user.username);
    const listener = students[participants];
    if (listener === undefined) continue;
    const participantTokens = students.slice(0, participants).map(login);
    const listenerToken = login(listener);
    const teacherToken = login(klass.teacher);
    if (participantTokens.some((token) => token === undefined) || !listenerToken || !teacherToken) {
      continue;
    }
    classes.push({
      conversationId: klass.id,
      participantTokens: participantTokens as string[],
      listenerToken,
      teacherToken,
    });
  }
  if (classes.length < count) {
    throw new Error(
      `the seed has ${classes.length} classes for calls; SCENARIO=calls needs ${count}`,
    );
  }
  return classes;
}

/** Students logged in before the load (the morning burst logs in by itself). */
export function setup(): {
  sessions: Session[];
  ownerToken: string | undefined;
  callClasses: CallClass[];
} {
  if (scenario?.kind === 'login') return { sessions: [], ownerToken: undefined, callClasses: [] };
  if (load && 'participants' in load) {
    return {
      sessions: [],
      ownerToken: undefined,
      callClasses: callClasses(load.calls, load.participants),
    };
  }
  const announcement = manifest.announcements[0];
  if (!announcement) throw new Error('the manifest has no announcement conversation');
  const listeners = load && 'listeners' in load ? (load.listeners ?? 0) : 0;
  const wanted = announcement.members.slice(0, Math.max(file.sessions[profile] ?? 0, listeners));
  const sessions: Session[] = [];
  for (const username of wanted) {
    const token = login(username);
    if (token) sessions.push({ token, ...conversationsOf(username) });
  }
  return { sessions, ownerToken: login(announcement.owner), callClasses: [] };
}

type Setup = ReturnType<typeof setup>;

function call(
  group: string,
  method: 'GET' | 'POST',
  path: string,
  token: string,
  body?: Payload,
): RefinedResponse<ResponseType> {
  const response = http.request(
    method,
    `${baseUrl}${path}`,
    body === undefined ? null : JSON.stringify(body),
    {
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      tags: { group, name: path.replace(/[0-9a-f-]{36}/g, '{id}').replace(/\?.*/, '') },
    },
  );
  check(response, { [`${group} answers 2xx`]: (r) => r.status >= 200 && r.status < 300 });
  return response;
}

const totalWeight = file.mix.actions.reduce((sum, action) => sum + action.weight, 0);
function pickAction(): MixAction {
  let roll = Math.random() * totalWeight;
  for (const action of file.mix.actions) {
    roll -= action.weight;
    if (roll < 0) return action;
  }
  return file.mix.actions[0] as MixAction;
}

/** One request of the school-day mix (steady, soak). */
export function mixRequest(data: Setup): void {
  const session = pick(data.sessions);
  const action = pickAction();
  const conversationId = pick(session.conversationIds);
  const path = action.path.replace('{conversationId}', conversationId);
  if (action.name === 'send') {
    call(
      action.group,
      'POST',
      action.path.replace('{conversationId}', session.classId),
      session.token,
      {
        body: 'Load test: is the homework due tomorrow?',
        idempotencyKey: `${__VU}-${__ITER}-${Date.now()}`,
      },
    );
  } else if (action.name === 'mark-read') {
    const page = call(
      'read',
      'GET',
      `/api/v1/conversations/${conversationId}/messages?limit=1`,
      session.token,
    );
    const newest = page.status === 200 ? page.json('messages.0.id') : undefined;
    if (typeof newest === 'string') {
      call(action.group, 'POST', path, session.token, { upToMessageId: newest });
    }
  } else if (action.name === 'presence') {
    call(action.group, 'POST', path, session.token, { userIds: session.classmateIds.slice(0, 30) });
  } else {
    call(action.group, action.method, path, session.token);
  }
}

/** Connects, measures the handshake, and records every live message:new. */
function openSocket(
  token: string,
  then: (socket: SocketIoClient) => void,
  onClose?: () => void,
): void {
  const startedAt = Date.now();
  const socket = new SocketIoClient(
    baseUrl,
    { token },
    {
      onConnect: () => {
        connectTime.add(Date.now() - startedAt);
        check(true, { 'socket connects': (ok) => ok });
        then(socket);
      },
      onConnectError: (message) => {
        check(message, { 'socket connects': () => false });
        socket.close();
      },
      onClose,
    },
  );
  socket.on('message:new', (event) => {
    if (typeof event.emittedAt === 'number') {
      delivery.add(Date.now() - event.emittedAt);
      deliveries.add(1);
    }
  });
}

function acked(socket: SocketIoClient, event: string, payload: Payload, then?: () => void) {
  const startedAt = Date.now();
  socket.emitWithAck(event, payload, (answer) => {
    ackTime.add(Date.now() - startedAt);
    check(answer, { [`${event} acked ok`]: (a) => a.ok === true });
    then?.();
  });
}

/** 8:00: log in, load the list and unread counts, connect and join. */
export function morningLogin(): void {
  const student = pick(manifest.users);
  const token = login(student.username);
  if (!token) return;
  call('read', 'GET', '/api/v1/conversations', token);
  call('read', 'GET', '/api/v1/me/unread', token);
  const { conversationIds } = conversationsOf(student.username);
  openSocket(token, (socket) =>
    acked(socket, 'conversation:join', { conversationIds }, () => socket.close()),
  );
}

/** A live session: join, type and send into the class, receive, reconnect and catch up. */
export function realtimeSession(data: Setup): void {
  if (!load || !('holdSeconds' in load) || !('typing' in load)) return;
  const live = load;
  const session = pick(data.sessions);
  const hold = live.holdSeconds * 1000;
  const steps = Math.max(live.sends, live.typing, 1);
  openSocket(session.token, (socket) => {
    acked(socket, 'conversation:join', { conversationIds: session.conversationIds });
    for (let step = 0; step < steps; step++) {
      setTimeout(
        () => {
          if (step < live.typing) socket.emit('typing:start', { conversationId: session.classId });
          if (step < live.sends) {
            acked(socket, 'message:send', {
              conversationId: session.classId,
              body: `Live from the load test (${step + 1})`,
              idempotencyKey: `${__VU}-${__ITER}-${step}-${Date.now()}`,
            });
          }
          if (step < live.typing) socket.emit('typing:stop', { conversationId: session.classId });
        },
        ((step + 1) * hold) / 2 / steps,
      );
    }
    setTimeout(
      () => {
        socket.close();
        // Reconnect and catch up, as a phone back on the network does.
        openSocket(session.token, (again) => {
          acked(again, 'conversation:join', { conversationIds: session.conversationIds });
          acked(again, 'sync', {
            conversations: session.conversationIds.map((conversationId) => ({
              conversationId,
              lastMessageId: null,
            })),
          });
          setTimeout(() => again.close(), hold / 2);
        });
      },
      hold / 2 + 100,
    );
  });
}

/** A member of the first announcement conversation, connected while announcements arrive. */
export function announcementListener(data: Setup): void {
  if (!load || !('sendAfterSeconds' in load)) return;
  const conversationId = manifest.announcements[0]?.id;
  const session = data.sessions[(__VU - 1) % data.sessions.length];
  if (!conversationId || !session) return;
  openSocket(session.token, (socket) => {
    let received = 0;
    socket.on('message:new', (event) => {
      const message = event.message as { conversationId?: string } | undefined;
      if (message?.conversationId === conversationId) received++;
    });
    acked(socket, 'conversation:join', { conversationIds: [conversationId] });
    setTimeout(() => {
      // Every listener is connected before the first announcement (connectSeconds <
      // sendAfterSeconds) and stays until after the last: each one is owed every announcement.
      for (let index = 0; index < load.sends; index++) delivered.add(index < received);
      socket.close();
    }, load.holdSeconds * 1000);
  });
}

/** A student online for the whole mix (steady): connected, joined to their conversations as
 *  the web client does (at most 100 a join), receiving live what the mix's sends cause; a
 *  disconnect before the end fails a check, as a refused connect does. */
export function mixListener(data: Setup): void {
  if (!listening) return;
  const session = data.sessions[execution.scenario.iterationInTest % data.sessions.length];
  if (!session) return;
  let joined = false;
  let leaving = false;
  openSocket(
    session.token,
    (socket) => {
      joined = true;
      for (let start = 0; start < session.conversationIds.length; start += 100) {
        acked(socket, 'conversation:join', {
          conversationIds: session.conversationIds.slice(start, start + 100),
        });
      }
      listenersConnected.add(1);
      setTimeout(
        () => {
          leaving = true;
          socket.close();
        },
        // From the listeners' scenario's start, which is the mix's clock too.
        Math.max(0, execution.scenario.startTime + listening.holdSeconds * 1000 - Date.now()),
      );
    },
    () => {
      // A refused connect was counted by openSocket already.
      if (joined) check(leaving, { 'listener stays connected': (left) => left });
    },
  );
}

/** The announcement conversation's owner posts one announcement. */
export function announce(data: Setup): void {
  const conversationId = manifest.announcements[0]?.id;
  if (!conversationId || !data.ownerToken) return;
  call('write', 'POST', `/api/v1/conversations/${conversationId}/messages`, data.ownerToken, {
    body: 'Announcement: the school closes at noon on Friday.',
    idempotencyKey: `announce-${__ITER}-${Date.now()}`,
  });
  sleep(0.1);
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const CALL_EVENT_TIMEOUT_MS = 10_000;

/** An HTTP request that does not block the VU's event loop (the listener's socket keeps
 *  receiving while the participants call), checked and tagged with its latency group. */
async function callAsync(
  group: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  token: string,
) {
  const params: Params = {
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    tags: { group, name: path.replace(/[0-9a-f-]{36}/g, '{id}') },
  };
  const response = await http.asyncRequest(method, `${baseUrl}${path}`, null, params);
  check(response, { [`${group} answers 2xx`]: (r) => r.status >= 200 && r.status < 300 });
  return response;
}

/**
 * One class group call. k6 speaks no WebRTC, so its participants take their LiveKit tokens but
 * never connect to LiveKit; Quad, which learns who is in a call from LiveKit, therefore never
 * sees them in, so there are no join or leave events and their leaves do not end the call: the
 * class's teacher (its owner) ends it. A classmate connected over Socket.IO is owed call:started
 * and call:ended. (The runner of Quad's repository connects its participants to LiveKit and is
 * owed every join and leave as well.)
 */
export async function callSession(data: Setup): Promise<void> {
  if (!load || !('participants' in load)) return;
  const klass = data.callClasses[(__VU - 1) % data.callClasses.length];
  if (!klass) return;
  const callPath = `/api/v1/conversations/${klass.conversationId}/call`;
  const arrivals = new Map<string, { callId: string; latencyMs: number }>();
  const startedAt = Date.now();
  const listener = await new Promise<SocketIoClient | undefined>((resolve) => {
    const socket: SocketIoClient = new SocketIoClient(
      baseUrl,
      { token: klass.listenerToken },
      {
        onConnect: () => {
          connectTime.add(Date.now() - startedAt);
          check(true, { 'socket connects': (ok) => ok });
          resolve(socket);
        },
        onConnectError: (message) => {
          check(message, { 'socket connects': () => false });
          socket.close();
          resolve(undefined);
        },
      },
    );
    for (const name of ['call:started', 'call:ended']) {
      socket.on(name, (event) => {
        if (event.conversationId !== klass.conversationId) return;
        const callId = String(event.callId);
        // The first arrival of each: the outbox relay may announce an event twice.
        if (arrivals.has(`${name} ${callId}`) || typeof event.emittedAt !== 'number') return;
        arrivals.set(`${name} ${callId}`, { callId, latencyMs: Date.now() - event.emittedAt });
      });
    }
  });
  if (!listener) return;
  let callId: string | undefined;
  const join = async (token: string) => {
    const answer = await callAsync('call-join', 'POST', callPath, token);
    const id = answer.status === 200 ? answer.json('call.id') : undefined;
    if (typeof id === 'string') callId ??= id;
    await callAsync('call-key', 'GET', `${callPath}/key`, token);
  };
  const [first, ...others] = klass.participantTokens;
  if (first) await join(first);
  await Promise.all(others.map(join));
  await wait(load.holdSeconds * 1000);
  for (const token of klass.participantTokens) {
    await callAsync('call-leave', 'POST', `${callPath}/leave`, token);
  }
  await callAsync('call-end', 'DELETE', callPath, klass.teacherToken);
  const deadline = Date.now() + CALL_EVENT_TIMEOUT_MS;
  while (!arrivals.has(`call:ended ${callId}`) && Date.now() < deadline) await wait(50);
  for (const name of ['call:started', 'call:ended']) {
    const arrival = arrivals.get(`${name} ${callId}`);
    delivered.add(arrival !== undefined);
    if (arrival) {
      delivery.add(arrival.latencyMs);
      deliveries.add(1);
    }
  }
  listener.close();
}
