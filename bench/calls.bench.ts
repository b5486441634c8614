/**
 * Calls: how long LiveKit's webhooks and Quad's real-time path take, on this machine.
 *
 *   npm run bench:calls   (needs tools/bin/livekit-server: `make tools`)
 *
 * Starts its own PostgreSQL, the two Redis servers, an api and a socket gateway (as the tests
 * start them) and a real livekit-server whose webhook goes through a small recording proxy in
 * this process on its way to the api, so the moment each webhook arrives is known. An anchor
 * participant stays in the call; then, JOINS times, one more member joins (POST .../call, then a
 * real @livekit/rtc-node connection) and leaves again (a LiveKit disconnect, no API call).
 * Prints, side by side, p50/p99/max of:
 *   - join → first webhook: the participant starts connecting → LiveKit's participant_joined
 *     reaches the api;
 *   - webhook → socket event: participant_joined reaches the api → `call:participant-joined`
 *     reaches a member's socket;
 *   - leave → rotated key: the participant disconnects → the anchor's socket holds the new key
 *     (LiveKit's participant_left webhook, the batching window of policy.calls.rotationBatchMs,
 *     the rotation, the push).
 * Figures, not assertions: the machine is shared and its load varies.
 */
import { createServer, request } from 'node:http';
import { loadavg } from 'node:os';
import { dispose } from '@livekit/rtc-node';
import { createLogger } from '../lib/observability/logger.js';
import { policy } from '../lib/policy/policy.js';
import { runMigrations } from '../lib/postgres/migrations.js';
import { callApi, createAccount, loginAs } from '../test/harness/api-client.js';
import { freePort } from '../test/harness/free-port.js';
import { joinLiveKit, type TestParticipant } from '../test/harness/livekit-participant.js';
import { reserveLiveKit, startLiveKitServer } from '../test/harness/livekit-server.js';
import { createDatabase, type TestPostgresServer } from '../test/harness/postgres-server.js';
import type { TestRedisServer } from '../test/harness/redis-server.js';
import { startService } from '../test/harness/service-process.js';
import { startSharedServers } from '../test/harness/shared-servers.js';
import { connectSocket, record, waitForEntry } from '../test/harness/socket-client.js';
import { SHARED_SERVERS_VARIABLE, serviceEnvironment } from '../test/harness/test-environment.js';
import { waitFor } from '../test/harness/wait-for.js';

const JOINS = 50;
const EVENT_TIMEOUT_MS = 20_000;

const log = (message: string) => console.error(`[calls.bench] ${message}`);

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Forwards LiveKit's webhooks to the api, noting when each participant_joined arrived. */
async function webhookRecorder(target: string) {
  const joinedAt = new Map<string, number>();
  const port = await freePort();
  const server = createServer((req, res) => {
    const arrived = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      try {
        const event = JSON.parse(body.toString('utf8')) as {
          event?: string;
          participant?: { identity?: string };
        };
        const identity = event.participant?.identity;
        if (event.event === 'participant_joined' && identity && !joinedAt.has(identity)) {
          joinedAt.set(identity, arrived);
        }
      } catch {
        // Not JSON: forwarded as it is; the api refuses it.
      }
      const url = new URL(target);
      const forward = request(
        url,
        { method: 'POST', headers: { ...req.headers, host: url.host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}/api/v1/livekit/webhook`, joinedAt, server };
}

async function main() {
  const started = performance.now();
  const servers: Array<TestPostgresServer | TestRedisServer> = [];
  const { postgres: postgresServer, shared } = await startSharedServers(servers);
  process.env[SHARED_SERVERS_VARIABLE] = JSON.stringify(shared);
  const databaseUrl = await createDatabase(postgresServer.url('postgres'), 'quad_bench_calls');
  await runMigrations(databaseUrl, createLogger('bench', 'warn'));

  const reserved = await reserveLiveKit();
  const environment = (service: 'api' | 'socket') => ({
    ...serviceEnvironment(service, databaseUrl),
    LOG_LEVEL: 'warn',
    RATE_LIMITS: JSON.stringify({
      'login-ip': { limit: 1_000, windowMs: 60_000 },
      'api-user': { limit: 100_000, windowMs: 60_000 },
      'api-anonymous': { limit: 100_000, windowMs: 60_000 },
    }),
    ...reserved.serviceEnvironment,
  });
  const api = await startService('api', environment('api'));
  const gateway = await startService('socket', environment('socket'));
  const recorder = await webhookRecorder(`${api.baseUrl}/api/v1/livekit/webhook`);
  const livekit = await startLiveKitServer(reserved, recorder.url);
  const participants: TestParticipant[] = [];
  try {
    const people: Array<{ id: string; token: string }> = [];
    for (let index = 0; index <= JOINS; index++) {
      const account = await createAccount(databaseUrl, `bench${index}`);
      people.push({ id: account.id, token: (await loginAs(api.baseUrl, `bench${index}`)).token });
    }
    const [anchor, ...joiners] = people;
    if (!anchor) throw new Error('no anchor');
    const group = await callApi(api.baseUrl, 'POST', '/conversations', {
      token: anchor.token,
      body: { kind: 'group', title: 'Bench call', memberIds: joiners.map((person) => person.id) },
    });
    const conversationId = String(group.body.id);
    const callPath = `/conversations/${conversationId}/call`;
    const anchorSocket = await connectSocket(gateway.baseUrl, anchor.token);
    // Arrival times are taken in the listeners, not when a wait notices them.
    const joinedEvents = record<{ userId: string }>(anchorSocket, 'call:participant-joined');
    const socketJoinedAt = new Map<string, number>();
    anchorSocket.on('call:participant-joined', (event: { userId: string }) => {
      if (!socketJoinedAt.has(event.userId)) socketJoinedAt.set(event.userId, performance.now());
    });
    const keyArrivals: number[] = [];
    anchorSocket.on('call:key', () => keyArrivals.push(performance.now()));
    const anchorJoin = await callApi(api.baseUrl, 'POST', callPath, { token: anchor.token });
    const anchorAnswer = anchorJoin.body as { livekit: { url: string; token: string } };
    participants.push(await joinLiveKit(anchorAnswer.livekit.url, anchorAnswer.livekit.token));
    await waitForEntry(
      joinedEvents,
      (event) => event.userId === anchor.id,
      'anchor joined',
      EVENT_TIMEOUT_MS,
    );
    log(`stack up in ${Math.round(performance.now() - started)} ms; ${JOINS} joins follow`);

    const joinToWebhook: number[] = [];
    const webhookToSocket: number[] = [];
    const leaveToKey: number[] = [];
    const connectTimes: number[] = [];
    for (const person of joiners) {
      const answer = await callApi(api.baseUrl, 'POST', callPath, { token: person.token });
      const { livekit: grant } = answer.body as { livekit: { url: string; token: string } };
      const joinStarted = performance.now();
      const participant = await joinLiveKit(grant.url, grant.token);
      connectTimes.push(performance.now() - joinStarted);
      await waitForEntry(
        joinedEvents,
        (event) => event.userId === person.id,
        `call:participant-joined of ${person.id}`,
        EVENT_TIMEOUT_MS,
      );
      const socketAt = socketJoinedAt.get(person.id) ?? Number.NaN;
      const webhookAt = recorder.joinedAt.get(person.id);
      if (webhookAt === undefined) throw new Error('the socket event came before its webhook');
      joinToWebhook.push(webhookAt - joinStarted);
      webhookToSocket.push(socketAt - webhookAt);

      const keysBefore = keyArrivals.length;
      const leftAt = performance.now();
      await participant.leave();
      await waitFor(
        'the rotated key on the anchor',
        async () => keyArrivals.length > keysBefore,
        EVENT_TIMEOUT_MS,
      );
      leaveToKey.push((keyArrivals[keysBefore] ?? Number.NaN) - leftAt);
    }
    anchorSocket.close();

    const row = (name: string, values: number[]) =>
      `${name.padEnd(44)} ${percentile(values, 50).toFixed(1).padStart(8)} ${percentile(values, 99)
        .toFixed(1)
        .padStart(8)} ${Math.max(...values)
        .toFixed(1)
        .padStart(8)}`;
    console.log(
      `\nCalls on LiveKit, ${JOINS} joins, one at a time (load average ${loadavg()
        .map((value) => value.toFixed(1))
        .join(' ')}; rotation batching window ${policy.calls.rotationBatchMs} ms)`,
    );
    console.log(
      `${'ms'.padEnd(44)} ${'p50'.padStart(8)} ${'p99'.padStart(8)} ${'max'.padStart(8)}`,
    );
    console.log(row('rtc-node connect (room.connect resolves)', connectTimes));
    console.log(row('join → first webhook at the api', joinToWebhook));
    console.log(row('webhook → call:participant-joined on a socket', webhookToSocket));
    console.log(row('leave → rotated key on the remaining socket', leaveToKey));
  } finally {
    for (const participant of participants) await participant.leave().catch(() => undefined);
    await dispose();
    await livekit.stop();
    recorder.server.close();
    await Promise.all([api.stop(), gateway.stop()]);
    await Promise.allSettled(servers.map((server) => server.dispose()));
  }
}

await main();
