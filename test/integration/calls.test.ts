import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { dispose, EncryptionType } from '@livekit/rtc-node';
import { Redis } from 'ioredis';
import { AccessToken, RoomServiceClient, TrackType } from 'livekit-server-sdk';
import pg from 'pg';
import type { Socket } from 'socket.io-client';
import type { z } from 'zod';
import { roomOfCall } from '../../lib/calls/index.js';
import { createLogger } from '../../lib/observability/logger.js';
import { policy } from '../../lib/policy/policy.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { joinAnswerSchema } from '../../services/api/calls/call.schemas.js';
import {
  type AccessRow,
  assertAccessTable,
  assertTableCoversTags,
} from '../harness/access-table.js';
import { callApi, createAccount, loginAs, type Reply } from '../harness/api-client.js';
import { joinLiveKit, type TestParticipant } from '../harness/livekit-participant.js';
import {
  reserveLiveKit,
  startLiveKitServer,
  type TestLiveKitServer,
} from '../harness/livekit-server.js';
import { dumpData } from '../harness/postgres-server.js';
import type { Person } from '../harness/private-api.js';
import { startRedisServer, type TestRedisServer } from '../harness/redis-server.js';
import { scrapeMetric } from '../harness/service-metrics.js';
import { type QuadService, type ServiceProcess, startService } from '../harness/service-process.js';
import { connectSocket, record, request, waitForEntry } from '../harness/socket-client.js';
import { createTestDatabase, serviceEnvironment } from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// Calls against a real livekit-server (tools/bin, `make tools`) on free loopback ports, real
// participants through @livekit/rtc-node, an api, a worker and two socket gateways on a private
// Redis pair (FLUSHALL concerns this test alone) and PostgreSQL: tokens, webhooks, live state,
// socket events on both gateways, key rotation, removal, end, history, forged and replayed
// webhooks, FLUSHALL mid-call, and the media keys absent from PostgreSQL and every log.

const names = ['ann', 'ben', 'cat', 'dan', 'eve'] as const;
type Name = (typeof names)[number];
/** The join answer, checked against the schema the api documents it with. */
type JoinBody = z.output<typeof joinAnswerSchema>;
interface KeyEvent {
  conversationId: string;
  callId: string;
  key: string;
  keyIndex: number;
}
interface CallEvent {
  conversationId: string;
  callId: string;
  userId?: string;
  reason?: string;
}
interface PresenceEvent {
  userId: string;
  online: boolean;
  inCall: boolean;
}
interface LiveCallMark {
  callId: string;
  startedAt: string;
  participantCount: number;
}

/** Anonymous requests per minute from one address (all of this test's come from 127.0.0.1). */
const ANONYMOUS_BUDGET = 60;

function assertStatus(reply: Reply, status: number) {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
}

/** The claims of a JWT, read without checking it (the test checks what was granted). */
function claimsOf(jwt: string): Record<string, unknown> {
  const payload = jwt.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('calls on LiveKit: tokens, webhooks, live state, ephemeral keys', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let postgres: pg.Pool;
  let state: TestRedisServer;
  let cache: TestRedisServer;
  let stateAdmin: Redis;
  let livekit: TestLiveKitServer;
  let reserved: Awaited<ReturnType<typeof reserveLiveKit>>;
  let rooms: RoomServiceClient;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let gateways: ServiceProcess[] = [];
  const sockets: Socket[] = [];
  const participants: TestParticipant[] = [];
  const people = {} as Record<Name, Person>;
  /** Every media key any participant was handed, to look for them where they must not be. */
  const keysSeen = new Set<string>();
  // The private Redis' ACL grants the default prefix (PSUBSCRIBE patterns are checked
  // literally), and this Redis is this test's alone.
  const keyPrefix = 'quad:';
  let conversationId = '';

  const call = (who: Name, method: string, path: string, body?: unknown) =>
    callApi(api.baseUrl, method, path, { token: people[who].token, body });
  const callPath = () => `/conversations/${conversationId}/call`;
  const join = async (who: Name): Promise<JoinBody> => {
    const reply = await call(who, 'POST', callPath());
    assertStatus(reply, 200);
    const body = joinAnswerSchema.parse(reply.body);
    keysSeen.add(body.e2ee.key);
    return body;
  };
  /** Into LiveKit with the answer's token, encrypting end to end with the answer's key. */
  const connect = async (answer: JoinBody, publishAudio = false) => {
    const participant = await joinLiveKit(answer.livekit.url, answer.livekit.token, {
      publishAudio,
      e2ee: answer.e2ee,
    });
    participants.push(participant);
    return participant;
  };
  const inCall = async (who: Name) => {
    const reply = await call('ann', 'GET', callPath());
    if (reply.status !== 200) return false;
    const list = reply.body.participants as Array<{ userId: string }>;
    return list.some((participant) => participant.userId === people[who].id);
  };
  const socketFor = async (who: Name, gateway: ServiceProcess) => {
    const socket = await connectSocket(gateway.baseUrl, people[who].token);
    sockets.push(socket);
    return socket;
  };
  /** A socket following the conversation's room, where presence changes are announced. */
  const watcherFor = async (who: Name, gateway: ServiceProcess) => {
    const socket = await socketFor(who, gateway);
    const joined = await request(socket, 'conversation:join', {
      conversationIds: [conversationId],
    });
    assert.equal(joined.ok, true, JSON.stringify(joined));
    return socket;
  };
  /** "In a call" as each gateway instance and the api answer it. */
  const inCallEverywhere = async (who: Name, watchers: Socket[]) => {
    const id = people[who].id;
    const answers: boolean[] = [];
    for (const socket of watchers) {
      const answer = await request(socket, 'presence:query', { userIds: [id] });
      assert.equal(answer.ok, true, JSON.stringify(answer));
      answers.push((answer.presence as Record<string, PresenceEvent>)[id]?.inCall === true);
    }
    const reply = await call('eve', 'POST', '/presence/query', { userIds: [id] });
    assertStatus(reply, 200);
    answers.push((reply.body.presence as Record<string, PresenceEvent>)[id]?.inCall === true);
    return answers;
  };
  /** The conversation as `who`'s conversation list shows it. */
  const listed = async (who: Name) => {
    const reply = await call(who, 'GET', '/conversations');
    assertStatus(reply, 200);
    const items = reply.body.conversations as Array<{ id: string; liveCall: LiveCallMark | null }>;
    const item = items.find((conversation) => conversation.id === conversationId);
    assert.ok(item, 'the conversation is in the list');
    return item;
  };
  const signedWebhook = async (body: string, secret = livekit.apiSecret) => {
    const token = new AccessToken(livekit.apiKey, secret);
    token.sha256 = createHash('sha256').update(body).digest('base64');
    return fetch(`${api.baseUrl}/api/v1/livekit/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization: await token.toJwt() },
      body,
    });
  };

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    postgres = new pg.Pool({ connectionString: database.url, max: 2 });
    state = await startRedisServer('state');
    cache = await startRedisServer('cache', state.passwords);
    stateAdmin = new Redis({ port: state.port, password: state.passwords.default });
    // The test takes this Redis down once; the client reconnects by itself.
    stateAdmin.on('error', () => undefined);
    reserved = await reserveLiveKit();
    const environment = (service: QuadService) => ({
      ...serviceEnvironment(service, database.url, { state: state.port, cache: cache.port }),
      REDIS_PASSWORD: state.passwords[service],
      // Every request here comes from 127.0.0.1. LiveKit's webhooks spend their own budget
      // (livekit-webhook); the anonymous one is kept small enough for a test to exhaust it.
      RATE_LIMITS: JSON.stringify({
        'login-ip': { limit: 1_000, windowMs: 60_000 },
        'api-user': { limit: 100_000, windowMs: 60_000 },
        'api-anonymous': { limit: ANONYMOUS_BUDGET, windowMs: 60_000, burst: ANONYMOUS_BUDGET },
      }),
      ...reserved.serviceEnvironment,
    });
    // One after the other: four processes compiling at once on a shared 2-core machine can
    // take longer than the harness waits for each.
    api = await startService('api', environment('api'));
    worker = await startService('worker', environment('worker'));
    gateways = [
      await startService('socket', environment('socket')),
      await startService('socket', environment('socket')),
    ];
    livekit = await startLiveKitServer(reserved, `${api.baseUrl}/api/v1/livekit/webhook`);
    rooms = new RoomServiceClient(
      `http://127.0.0.1:${livekit.port}`,
      livekit.apiKey,
      livekit.apiSecret,
    );
    for (const name of names) {
      const account = await createAccount(database.url, name);
      people[name] = { id: account.id, token: (await loginAs(api.baseUrl, name)).token };
    }
    const { ann, ben, cat, dan } = people;
    const group = await call('ann', 'POST', '/conversations', {
      kind: 'group',
      title: 'Physics study group',
      memberIds: [cat.id, dan.id],
    });
    assertStatus(group, 201);
    conversationId = String(group.body.id);
    assertStatus(
      await call('ann', 'POST', `/conversations/${conversationId}/members`, {
        userId: ben.id,
        role: 'admin',
      }),
      200,
    );
    assert.ok(ann.id);
  });

  after(async () => {
    for (const participant of participants) await participant.leave().catch(() => undefined);
    for (const socket of sockets) socket.close();
    await Promise.all([api?.stop(), worker?.stop(), ...gateways.map((gateway) => gateway.stop())]);
    await livekit?.stop();
    stateAdmin?.disconnect();
    await postgres?.end();
    await Promise.all([state?.dispose(), cache?.dispose()]);
    await database?.drop();
    await dispose();
  });

  it('a stranger gets 404 on every call route, without credentials 401; the table covers them', async () => {
    const id = conversationId;
    const table: AccessRow<'stranger' | 'anonymous'>[] = [
      ['POST', `/conversations/${id}/call`, '/conversations/{id}/call'],
      ['GET', `/conversations/${id}/call`, '/conversations/{id}/call'],
      ['DELETE', `/conversations/${id}/call`, '/conversations/{id}/call'],
      ['GET', `/conversations/${id}/call/key`, '/conversations/{id}/call/key'],
      ['POST', `/conversations/${id}/call/leave`, '/conversations/{id}/call/leave'],
      ['PUT', `/conversations/${id}/call/settings`, '/conversations/{id}/call/settings'],
      [
        'POST',
        `/conversations/${id}/call/participants/${people.ann.id}/remove`,
        '/conversations/{id}/call/participants/{userId}/remove',
      ],
    ].map(([method, path, route]) => ({
      method: String(method),
      path: String(path),
      route: String(route),
      expect: { stranger: 404, anonymous: 401 },
    }));
    table.push({ method: 'GET', path: '/calls', route: '/calls', expect: { anonymous: 401 } });
    table.push({
      method: 'GET',
      path: '/calls/live',
      route: '/calls/live',
      expect: { anonymous: 401 },
    });
    await assertAccessTable(api.baseUrl, table, {
      stranger: { token: people.eve.token },
      anonymous: {},
    });
    await assertTableCoversTags(api.baseUrl, table, ['calls']);
  });

  it('twenty starts at once make one call; the token is for its room only, publishing by role', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) => join(index % 2 === 0 ? 'cat' : 'dan')),
    );
    const callIds = new Set(answers.map((answer) => answer.call.id));
    assert.equal(callIds.size, 1);
    const live = await postgres.query('SELECT id FROM calls WHERE ended_at IS NULL');
    assert.equal(live.rowCount, 1);
    const [first] = answers;
    assert.ok(first);
    assert.equal(new Set(answers.map((answer) => answer.e2ee.key)).size, 1);
    assert.equal(Buffer.from(first.e2ee.key, 'base64').length, 32);
    const claims = claimsOf(first.livekit.token);
    const grant = claims.video as Record<string, unknown>;
    assert.equal(grant.room, roomOfCall(first.call.id));
    assert.equal(grant.roomJoin, true);
    assert.equal(grant.canPublish, true);
    assert.equal(grant.roomAdmin, undefined);
    assert.equal(grant.roomCreate, undefined);
    assert.equal(claims.sub, people.cat.id);
    const ttl = Number(claims.exp) - Number(claims.nbf);
    assert.ok(ttl > 0 && ttl <= 120, `token lives ${ttl} s`);

    // "Only admins publish": members join as listeners, admins still publish.
    const settings = `${callPath()}/settings`;
    assertStatus(await call('cat', 'PUT', settings, { publishers: 'admins' }), 403);
    assertStatus(await call('ben', 'PUT', settings, { publishers: 'admins' }), 200);
    const listener = claimsOf((await join('cat')).livekit.token).video as Record<string, unknown>;
    const speaker = claimsOf((await join('ben')).livekit.token).video as Record<string, unknown>;
    assert.equal(listener.canPublish, false);
    assert.equal(speaker.canPublish, true);
    assertStatus(await call('ann', 'PUT', settings, { publishers: 'members' }), 200);
    // Nobody connected: the call is ended as abandoned later; end it now for the next tests.
    assertStatus(await call('ann', 'DELETE', callPath()), 204);
  });

  it('join → webhook → live state → call events on both gateway instances', async () => {
    const onFirst = await watcherFor('ben', gateways[0] as ServiceProcess);
    const onSecond = await watcherFor('ben', gateways[1] as ServiceProcess);
    const presenceChanges = [
      record<PresenceEvent>(onFirst, 'presence:changed'),
      record<PresenceEvent>(onSecond, 'presence:changed'),
    ];
    assert.deepEqual(await inCallEverywhere('ann', [onFirst, onSecond]), [false, false, false]);
    assert.equal((await listed('ben')).liveCall, null);
    const started = [
      record<CallEvent>(onFirst, 'call:started'),
      record<CallEvent>(onSecond, 'call:started'),
    ];
    const joined = [
      record<CallEvent>(onFirst, 'call:participant-joined'),
      record<CallEvent>(onSecond, 'call:participant-joined'),
    ];
    const answer = await join('ann');
    for (const events of started) {
      await waitForEntry(events, (event) => event.callId === answer.call.id, 'call:started');
    }
    await connect(answer, true);
    for (const events of joined) {
      await waitForEntry(
        events,
        (event) => event.callId === answer.call.id && event.userId === people.ann.id,
        'call:participant-joined on each gateway',
        15_000,
      );
    }
    assert.ok(await inCall('ann'));
    // "In a call", announced on both gateway instances (ann has no socket open: a call is not
    // a connection) and read the same on both and over HTTP, by anyone who may ask presence.
    for (const changes of presenceChanges) {
      await waitForEntry(
        changes,
        (event) => event.userId === people.ann.id && event.inCall,
        'presence:changed in a call on each gateway',
      );
    }
    assert.deepEqual(await inCallEverywhere('ann', [onFirst, onSecond]), [true, true, true]);
    assert.deepEqual(await inCallEverywhere('cat', [onFirst, onSecond]), [false, false, false]);
    // The conversation list marks the call, with who is in it, from the live state in Redis.
    const item = await listed('ben');
    assert.deepEqual(item.liveCall, {
      callId: answer.call.id,
      startedAt: answer.call.startedAt,
      participantCount: 1,
    });
    // The conversation list's "call in progress" and "in a call": for members only.
    const live = await call('ben', 'GET', '/calls/live');
    assertStatus(live, 200);
    assert.deepEqual(live.body.calls, [
      {
        id: answer.call.id,
        conversationId,
        startedAt: (live.body.calls as Array<{ startedAt: string }>)[0]?.startedAt,
        participantIds: [people.ann.id],
      },
    ]);
    assert.deepEqual((await call('eve', 'GET', '/calls/live')).body, { calls: [] });
    // The live state is in Redis, on redis-om's hashes under the prefix and the call's hash tag.
    const sessionKey = `${keyPrefix}call-session:{${conversationId}}`;
    assert.equal(await stateAdmin.hget(sessionKey, 'callId'), answer.call.id);
    assert.equal(
      await stateAdmin.sismember(
        `${keyPrefix}call-participants:{${conversationId}}`,
        people.ann.id,
      ),
      1,
    );
    // What ann publishes is encrypted end to end with the call's key: LiveKit (the SFU)
    // forwards frames it cannot read, and says so.
    const [annListed] = await rooms.listParticipants(roomOfCall(answer.call.id));
    assert.equal(annListed?.identity, people.ann.id);
    const audio = annListed?.tracks.filter((track) => track.type === TrackType.AUDIO) ?? [];
    assert.equal(audio.length, 1);
    // (LiveKit's one numbering of encryption types, as rtc-node exports it.)
    assert.equal(audio[0]?.encryption, EncryptionType.GCM);
    // Muted as LiveKit reports it: ann publishes an unmuted tone; the reconciler reads it.
    await waitFor(
      'ann unmuted',
      async () => {
        const reply = await call('ann', 'GET', callPath());
        const list = reply.body.participants as Array<{ userId: string; muted: boolean }>;
        return list.some((row) => row.userId === people.ann.id && !row.muted);
      },
      15_000,
    );
  });

  it('a leave rotates the key: the leaver’s index is no longer current, who remains gets the new one', async () => {
    const annSocket = await socketFor('ann', gateways[1] as ServiceProcess);
    const annKeys = record<KeyEvent>(annSocket, 'call:key');
    const benAnswer = await join('ben');
    await connect(benAnswer);
    await waitFor('ben in the call', () => inCall('ben'), 15_000);
    const before = benAnswer.e2ee;
    const benKeys = record<KeyEvent>(
      await socketFor('ben', gateways[0] as ServiceProcess),
      'call:key',
    );
    assertStatus(await call('ben', 'POST', `${callPath()}/leave`), 204);
    const rotated = await waitForEntry(
      annKeys,
      (event) => event.keyIndex === (before.keyIndex + 1) % 16,
      'the rotated key pushed to ann',
      5_000,
    );
    keysSeen.add(rotated.key);
    assert.notEqual(rotated.key, before.key);
    const current = await call('ann', 'GET', `${callPath()}/key`);
    assertStatus(current, 200);
    assert.deepEqual(current.body, { key: rotated.key, keyIndex: rotated.keyIndex });
    assert.ok(!(await inCall('ben')));
    // PostgreSQL has the index (never the key), so a rebuilt Redis continues from it; the
    // leaver's own devices were not sent the new key.
    const stored = await postgres.query<{ keyIndex: number }>(
      'SELECT key_index AS "keyIndex" FROM calls WHERE id = $1',
      [rotated.callId],
    );
    assert.equal(stored.rows[0]?.keyIndex, rotated.keyIndex);
    assert.ok(!benKeys.some((event) => event.key === rotated.key));
  });

  it('several leaves within the batching window make one rotation', async () => {
    const answers = await Promise.all((['ben', 'cat', 'dan'] as const).map((who) => join(who)));
    for (const answer of answers) await connect(answer);
    for (const who of ['ben', 'cat', 'dan'] as const) {
      await waitFor(`${who} in the call`, () => inCall(who), 15_000);
    }
    const indexBefore = (await call('ann', 'GET', `${callPath()}/key`)).body.keyIndex as number;
    await Promise.all(
      (['ben', 'cat', 'dan'] as const).map(async (who) =>
        assertStatus(await call(who, 'POST', `${callPath()}/leave`), 204),
      ),
    );
    await waitFor('the batched rotation', async () => {
      const reply = await call('ann', 'GET', `${callPath()}/key`);
      return reply.body.keyIndex !== indexBefore;
    });
    // Past the window: still exactly one step.
    await waitFor('the rotation flag released', async () => {
      const flag = await stateAdmin.exists(`${keyPrefix}call-rotation:{${conversationId}}`);
      return flag === 0;
    });
    const reply = await call('ann', 'GET', `${callPath()}/key`);
    keysSeen.add(String(reply.body.key));
    assert.equal(reply.body.keyIndex, (indexBefore + 1) % 16);
  });

  it('a rotation whose claimer died inside the batching window still happens', async () => {
    const annKeys = record<KeyEvent>(
      await socketFor('ann', gateways[1] as ServiceProcess),
      'call:key',
    );
    const benAnswer = await join('ben');
    await connect(benAnswer);
    await waitFor('ben in the call', () => inCall('ben'), 15_000);
    const indexBefore = (await call('ann', 'GET', `${callPath()}/key`)).body.keyIndex as number;
    // What a process leaves when it is killed right after claiming the next rotation: the
    // pending rotation, recorded under its claimer, that nobody is going to run.
    const rotationKey = `${keyPrefix}call-rotation:{${conversationId}}`;
    assert.equal(
      await stateAdmin.set(rotationKey, 'a-claimer-that-died', 'PX', policy.calls.rotationLeaseMs),
      'OK',
    );
    // Ben leaves within that claim's window: his leave rides along with the dead claim.
    assertStatus(await call('ben', 'POST', `${callPath()}/leave`), 204);
    const rotated = await waitForEntry(
      annKeys,
      (event) => event.keyIndex === (indexBefore + 1) % 16,
      'the abandoned rotation completed by the reconciler',
      policy.calls.rotationTakeoverAfterMs + 3 * policy.calls.reconcileIntervalMs,
    );
    keysSeen.add(rotated.key);
    assert.notEqual(rotated.key, benAnswer.e2ee.key);
    await waitFor('the completed rotation released', async () => {
      return (await stateAdmin.exists(rotationKey)) === 0;
    });
    assert.deepEqual((await call('ann', 'GET', `${callPath()}/key`)).body, {
      key: rotated.key,
      keyIndex: rotated.keyIndex,
    });
    assert.ok(
      (await scrapeMetric(worker.baseUrl, 'call_reconciliation_corrections_total', {
        kind: 'abandoned_rotation',
      })) >= 1,
    );
  });

  it('a forged or unsigned webhook answers 401 and changes nothing; a replayed one is applied once', async () => {
    const live = await postgres.query<{ id: string }>(
      'SELECT id FROM calls WHERE ended_at IS NULL AND conversation_id = $1',
      [conversationId],
    );
    const callId = live.rows[0]?.id;
    assert.ok(callId);
    const leaveOfAnn = JSON.stringify({
      event: 'participant_left',
      id: `EV_${randomUUID()}`,
      createdAt: String(Math.floor(Date.now() / 1000) + 1),
      room: { name: roomOfCall(callId) },
      participant: { identity: people.ann.id },
    });
    const unsigned = await fetch(`${api.baseUrl}/api/v1/livekit/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json' },
      body: leaveOfAnn,
    });
    assert.equal(unsigned.status, 401);
    const forged = await signedWebhook(leaveOfAnn, 'not-the-secret-not-the-secret-00');
    assert.equal(forged.status, 401);
    // A body changed after signing: the signature is over another body.
    const token = new AccessToken(livekit.apiKey, livekit.apiSecret);
    token.sha256 = createHash('sha256').update('{}').digest('base64');
    const tampered = await fetch(`${api.baseUrl}/api/v1/livekit/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization: await token.toJwt() },
      body: leaveOfAnn,
    });
    assert.equal(tampered.status, 401);
    assert.ok(await inCall('ann'), 'a refused webhook changed nothing');
    const refusedRows = await postgres.query('SELECT 1 FROM livekit_webhook_events');
    const appliedBefore = refusedRows.rowCount ?? 0;

    // A genuine event about a participant who joined (recorded) and is still there, delivered
    // twice: the first applies, the second is a duplicate.
    const joinOfEve = JSON.stringify({
      event: 'participant_joined',
      id: `EV_${randomUUID()}`,
      createdAt: String(Math.floor(Date.now() / 1000)),
      room: { name: roomOfCall(callId) },
      participant: { identity: people.ann.id },
    });
    const first = await signedWebhook(joinOfEve);
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { result: 'applied' });
    const again = await signedWebhook(joinOfEve);
    assert.deepEqual(await again.json(), { result: 'duplicate' });
    const stays = await postgres.query(
      'SELECT 1 FROM call_participants WHERE call_id = $1 AND user_id = $2 AND left_at IS NULL',
      [callId, people.ann.id],
    );
    assert.equal(stays.rowCount, 1);
    const rows = await postgres.query('SELECT 1 FROM livekit_webhook_events');
    assert.equal(rows.rowCount, appliedBefore + 1);
  });

  it('a member removed from the conversation is out of the call at once and cannot get back in', async () => {
    const danAnswer = await join('dan');
    const dan = await connect(danAnswer);
    await waitFor('dan in the call', () => inCall('dan'), 15_000);
    const annKeys = record<KeyEvent>(
      await socketFor('ann', gateways[0] as ServiceProcess),
      'call:key',
    );
    assertStatus(
      await call('ann', 'DELETE', `/conversations/${conversationId}/members/${people.dan.id}`),
      204,
    );
    await dan.disconnected;
    await waitFor('dan out of the call', async () => !(await inCall('dan')), 15_000);
    const rotated = await waitForEntry(
      annKeys,
      (event) => event.keyIndex === (danAnswer.e2ee.keyIndex + 1) % 16,
      'the key rotated after the removal',
      10_000,
    );
    keysSeen.add(rotated.key);
    // The token dan still holds opens LiveKit's room for its short lifetime; the webhook of that
    // join removes him at once, and the key he could use is no longer current.
    const again = await joinLiveKit(danAnswer.livekit.url, danAnswer.livekit.token).catch(
      () => undefined,
    );
    if (again) {
      participants.push(again);
      await again.disconnected;
    }
    const listed = await rooms.listParticipants(roomOfCall(danAnswer.call.id));
    assert.ok(!listed.some((participant) => participant.identity === people.dan.id));
    assert.ok(!(await inCall('dan')));
    assertStatus(await call('dan', 'POST', callPath()), 404);
    assertStatus(await call('dan', 'GET', `${callPath()}/key`), 404);
    const current = (await call('ann', 'GET', `${callPath()}/key`)).body;
    assert.notEqual(current.keyIndex, danAnswer.e2ee.keyIndex);
    assert.notEqual(current.key, danAnswer.e2ee.key);
    keysSeen.add(String(current.key));
  });

  it('FLUSHALL mid-call: the live state is rebuilt and the lost key replaced, nothing lost', async () => {
    const annKeys = record<KeyEvent>(
      await socketFor('ann', gateways[1] as ServiceProcess),
      'call:key',
    );
    const before = (await call('ann', 'GET', `${callPath()}/key`)).body;
    await stateAdmin.flushall();
    // PostgreSQL still says who is in the call while Redis is empty.
    assert.ok(await inCall('ann'));
    await waitFor(
      'live state rebuilt in Redis',
      async () => (await stateAdmin.exists(`${keyPrefix}call-session:{${conversationId}}`)) === 1,
      15_000,
    );
    const rotated = await waitForEntry(
      annKeys,
      (event) => event.keyIndex === ((before.keyIndex as number) + 1) % 16,
      'a new key after the flush',
      15_000,
    );
    keysSeen.add(rotated.key);
    assert.deepEqual((await call('ann', 'GET', `${callPath()}/key`)).body, {
      key: rotated.key,
      keyIndex: rotated.keyIndex,
    });
    assert.equal(
      await stateAdmin.sismember(
        `${keyPrefix}call-participants:{${conversationId}}`,
        people.ann.id,
      ),
      1,
    );
    // "In a call" and the list's mark were in Redis too: rebuilt by the same reconciler.
    const watcher = await watcherFor('ben', gateways[0] as ServiceProcess);
    await waitFor('ann in a call again', async () =>
      (await inCallEverywhere('ann', [watcher])).every(Boolean),
    );
    assert.equal((await listed('ben')).liveCall?.participantCount, 1);
  });

  it('end: the key is gone from Redis and the history has the call with its duration', async () => {
    const benSocket = await watcherFor('ben', gateways[0] as ServiceProcess);
    const ended = record<CallEvent>(benSocket, 'call:ended');
    const presenceChanges = record<PresenceEvent>(benSocket, 'presence:changed');
    const live = await postgres.query<{ id: string }>(
      'SELECT id FROM calls WHERE ended_at IS NULL AND conversation_id = $1',
      [conversationId],
    );
    const callId = live.rows[0]?.id;
    assert.ok(callId);
    assertStatus(await call('cat', 'DELETE', callPath()), 403);
    assertStatus(await call('ben', 'DELETE', callPath()), 204);
    await waitForEntry(ended, (event) => event.callId === callId, 'call:ended');
    await waitForEntry(
      presenceChanges,
      (event) => event.userId === people.ann.id && !event.inCall,
      'ann out of calls, announced',
    );
    assert.deepEqual(await inCallEverywhere('ann', [benSocket]), [false, false]);
    assert.equal((await listed('ben')).liveCall, null);
    assert.equal(await stateAdmin.exists(`${keyPrefix}call-key:{${conversationId}}`), 0);
    assert.equal(await stateAdmin.exists(`${keyPrefix}call-session:{${conversationId}}`), 0);
    assertStatus(await call('ann', 'GET', callPath()), 404);
    const row = await postgres.query<{ reason: string; seconds: number }>(
      `SELECT c.ended_reason AS reason,
              extract(epoch FROM max(p.left_at) - min(p.joined_at))::float8 AS seconds
         FROM calls c JOIN call_participants p ON p.call_id = c.id
        WHERE c.id = $1 AND p.user_id = $2 GROUP BY c.id`,
      [callId, people.ann.id],
    );
    assert.equal(row.rows[0]?.reason, 'ended_by_admin');
    const history = await call('ann', 'GET', '/calls');
    assertStatus(history, 200);
    const entry = (history.body.calls as Array<Record<string, unknown>>).find(
      (item) => item.id === callId,
    );
    assert.ok(entry);
    assert.ok(entry.endedAt);
    assert.equal(entry.secondsInCall, Math.floor(row.rows[0]?.seconds ?? -1));
    assert.ok((entry.secondsInCall as number) >= 1);
  });

  it('the last one to leave ends the call before the answer, even when LiveKit’s webhook recorded the leave first', async () => {
    const answer = await join('ben');
    await connect(answer);
    await waitFor('ben in the call', () => inCall('ben'), 15_000);
    // The disconnect a leave asks LiveKit for makes it send participant_left, and that webhook
    // can commit the leave before the request does: here it has, and has not ended the call yet.
    await postgres.query(
      'UPDATE call_participants SET left_at = now() WHERE call_id = $1 AND left_at IS NULL',
      [answer.call.id],
    );
    assertStatus(await call('ben', 'POST', `${callPath()}/leave`), 204);
    assertStatus(await call('ben', 'GET', callPath()), 404);
    const row = await postgres.query<{ reason: string | null }>(
      'SELECT ended_reason AS reason FROM calls WHERE id = $1',
      [answer.call.id],
    );
    assert.equal(row.rows[0]?.reason, 'empty');
  });

  it('webhooks lost (LiveKit started without its webhook): the reconciler still converges', async () => {
    await livekit.stop();
    livekit = await startLiveKitServer(reserved, undefined);
    const answer = await join('ann');
    const ann = await connect(answer, true);
    await waitFor('ann recorded from LiveKit’s own list', () => inCall('ann'), 20_000);
    const corrections = () =>
      scrapeMetric(worker.baseUrl, 'call_reconciliation_corrections_total', {
        kind: 'missed_join',
      });
    assert.ok((await corrections()) >= 1);
    await ann.leave();
    await waitFor(
      'the call ended without a webhook',
      async () => {
        const row = await postgres.query<{ reason: string | null }>(
          'SELECT ended_reason AS reason FROM calls WHERE id = $1',
          [answer.call.id],
        );
        return row.rows[0]?.reason === 'empty';
      },
      20_000,
    );
    // The end commits first and the key is deleted right after it (endCall): the row can be
    // read between the two.
    await waitFor(
      'the ended call’s key gone from Redis',
      async () => (await stateAdmin.exists(`${keyPrefix}call-key:{${conversationId}}`)) === 0,
      5_000,
    );
    assertStatus(await call('ann', 'GET', callPath()), 404);
  });

  it('calls degrade cleanly while the state Redis is hung, then down: 503 calls_unavailable, quickly, nothing started, back with Redis', async () => {
    // A request pays at most one command timeout per trip to the hung Redis on its path (its
    // rate limit, the call's live state), and the breakers spare even that once open.
    const bound = 4 * policy.redis.commandTimeoutMs + 1_000;
    const refusedQuickly = async () => {
      const started = performance.now();
      const reply = await call('cat', 'POST', callPath());
      const elapsed = performance.now() - started;
      assertStatus(reply, 503);
      assert.equal(reply.body.code, 'calls_unavailable');
      assert.equal(
        reply.headers.get('retry-after'),
        String(policy.http.unavailableRetryAfterSeconds),
      );
      assert.ok(elapsed < bound, `answered in ${Math.round(elapsed)} ms (bound ${bound} ms)`);
    };
    const listedWithoutMarks = async () => {
      const reply = await call('cat', 'GET', '/conversations');
      assertStatus(reply, 200);
      for (const item of reply.body.conversations as Array<{ liveCall: unknown }>) {
        assert.equal(item.liveCall, null);
      }
    };
    const nothingStarted = async () => {
      const live = await postgres.query(
        'SELECT 1 FROM calls WHERE conversation_id = $1 AND ended_at IS NULL',
        [conversationId],
      );
      assert.equal(live.rowCount, 0, 'no call was started');
      assert.equal(api.child.exitCode, null, 'the api is still running');
      assert.equal(api.child.signalCode, null, 'the api is still running');
    };
    const callsWorkAgain = async (what: string) => {
      await waitFor(
        what,
        async () => (await call('cat', 'POST', callPath())).status === 200,
        30_000,
      );
      assertStatus(await call('ann', 'DELETE', callPath()), 204);
    };
    await nothingStarted();

    // Hung: every command waits (CLIENT PAUSE), as behind a Redis stuck in a slow command.
    const pauseMs = 10_000;
    const pausedAt = Date.now();
    await stateAdmin.call('CLIENT', 'PAUSE', String(pauseMs), 'ALL');
    await refusedQuickly();
    await refusedQuickly();
    await listedWithoutMarks();
    assert.ok(Date.now() - pausedAt < pauseMs, 'all of it while Redis was hung');
    await nothingStarted();
    await callsWorkAgain('calls again once Redis answers');

    // Down: the server is gone (SIGKILL), then back, empty.
    await state.stop('SIGKILL');
    await refusedQuickly();
    await refusedQuickly();
    await listedWithoutMarks();
    await nothingStarted();
    await state.restart();
    await callsWorkAgain('calls again once Redis is back');
    await nothingStarted();
  });

  it('LiveKit’s webhooks spend their own budget: a burst beyond the anonymous one is accepted, which still limits the rest', async () => {
    // Limits are decided in the state Redis, which the test before restarted; until the
    // limiter reads it again they fail open (answers carry no RateLimit then).
    await waitFor(
      'rate limits decided in Redis again',
      async () =>
        (await callApi(api.baseUrl, 'GET', '/openapi.json')).headers.get('ratelimit') !== null,
      15_000,
    );
    // More than an address may send anonymously in any minute (limit + burst), all signed.
    const burst = ANONYMOUS_BUDGET * 2 + 30;
    const answers: number[] = [];
    for (let sent = 0; sent < burst; sent += 10) {
      const batch = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const response = await signedWebhook(
            JSON.stringify({
              event: 'room_started',
              id: `EV_${randomUUID()}`,
              createdAt: String(Math.floor(Date.now() / 1000)),
              room: { name: 'not-a-quad-call' },
            }),
          );
          assert.match(response.headers.get('ratelimit-policy') ?? '', /^"livekit-webhook";/);
          assert.match(response.headers.get('ratelimit') ?? '', /^"livekit-webhook";/);
          await response.arrayBuffer();
          return response.status;
        }),
      );
      answers.push(...batch);
    }
    assert.deepEqual(new Set(answers), new Set([200]), 'every signed webhook accepted');
    // Other anonymous requests from the same address still meet the anonymous limit: gcra
    // admits at most its burst plus one unit a second here, so twice the budget, sent within
    // a minute, meets a 429 whatever was spent before.
    let refused: Reply | undefined;
    for (let sent = 0; sent < 2 * ANONYMOUS_BUDGET && !refused; sent++) {
      const reply = await callApi(api.baseUrl, 'GET', '/openapi.json');
      // Only the anonymous budget: the webhook's applies to the webhook route alone.
      assert.match(reply.headers.get('ratelimit-policy') ?? '', /^"api-anonymous";[^,]*$/);
      if (reply.status === 429) refused = reply;
      else assertStatus(reply, 200);
    }
    assert.ok(refused, 'the anonymous budget ran out');
    assert.equal(refused.body.policy, 'api-anonymous');
  });

  it('no media key is in the PostgreSQL dump or any service log, in base64 or hex', async () => {
    assert.ok(keysSeen.size >= 4, `keys seen: ${keysSeen.size}`);
    const dump = await dumpData(database.url);
    assert.ok(dump.includes(conversationId));
    const logs = [api, worker, ...gateways]
      .map((service) => JSON.stringify(service.logs) + service.otherOutput())
      .join('\n');
    const haystacks = { dump, logs, livekit: livekit.output() };
    for (const key of keysSeen) {
      const hex = Buffer.from(key, 'base64').toString('hex');
      const url = Buffer.from(key, 'base64').toString('base64url');
      for (const [where, text] of Object.entries(haystacks)) {
        assert.ok(!text.includes(key), `a key in base64 in ${where}`);
        assert.ok(!text.includes(url), `a key in base64url in ${where}`);
        assert.ok(!text.toLowerCase().includes(hex), `a key in hex in ${where}`);
      }
    }
  });
});
