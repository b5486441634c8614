import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Cluster, Redis } from 'ioredis';
import type { Socket } from 'socket.io-client';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { callApi, createAccount, loginAs } from '../harness/api-client.js';
import { joinLiveKit, type TestParticipant } from '../harness/livekit-participant.js';
import {
  reserveLiveKit,
  startLiveKitServer,
  type TestLiveKitServer,
} from '../harness/livekit-server.js';
import { type QuadService, type ServiceProcess, startService } from '../harness/service-process.js';
import { connectSocket, record, waitForEntry } from '../harness/socket-client.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedRedisClient,
  sharedServers,
} from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// Calls on a Redis Cluster: redis-om's live call state goes through node-redis' cluster client
// (the one capability on node-redis), so this proves that client finds every node, that one
// call's keys (one hash tag) stay on one slot, and that joins, a leave's key rotation and the
// end work across two gateways, an api and a worker that share nothing but the cluster.

interface KeyEvent {
  callId: string;
  key: string;
  keyIndex: number;
}
interface CallEvent {
  callId: string;
  userId?: string;
}
interface Person {
  id: string;
  token: string;
}

describe('calls on a Redis Cluster: redis-om through the node-redis cluster client', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let livekit: TestLiveKitServer;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  const gateways: ServiceProcess[] = [];
  const sockets: Socket[] = [];
  const participants: TestParticipant[] = [];
  const people = {} as Record<'ann' | 'ben', Person>;
  let state: Redis | Cluster;
  let conversationId = '';

  const call = (who: 'ann' | 'ben', method: string, path: string, body?: unknown) =>
    callApi(api.baseUrl, method, path, { token: people[who].token, body });
  const callPath = () => `/conversations/${conversationId}/call`;
  const inCall = async (userId: string) => {
    const reply = await call('ann', 'GET', callPath());
    if (reply.status !== 200) return false;
    const list = reply.body.participants as Array<{ userId: string }>;
    return list.some((participant) => participant.userId === userId);
  };

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    const reserved = await reserveLiveKit();
    const environment = (service: QuadService) => ({
      ...serviceEnvironment(service, database.url),
      // LiveKit's webhooks come from 127.0.0.1 like every request of the test.
      RATE_LIMITS: JSON.stringify({
        'login-ip': { limit: 1_000, windowMs: 60_000 },
        'api-anonymous': { limit: 100_000, windowMs: 60_000 },
      }),
      ...reserved.serviceEnvironment,
    });
    api = await startService('api', environment('api'));
    worker = await startService('worker', environment('worker'));
    gateways.push(await startService('socket', environment('socket')));
    gateways.push(await startService('socket', environment('socket')));
    livekit = await startLiveKitServer(reserved, `${api.baseUrl}/api/v1/livekit/webhook`);
    for (const name of ['ann', 'ben'] as const) {
      const account = await createAccount(database.url, name);
      people[name] = { id: account.id, token: (await loginAs(api.baseUrl, name)).token };
    }
    state = sharedRedisClient('state', 'default');
    // A conversation whose call keys live on a master other than the first seed node, so a
    // client that talked to the seed alone (no cluster redirection) would fail here, not pass
    // by luck of the slot.
    const seed = sharedServers().redis.clusterNodes?.split(',')[0] ?? '';
    const seedPort = Number(seed.split(':')[1]);
    const slots = await state.cluster('SLOTS');
    const onSeed = (slot: number) =>
      slots.some(([from, to, master]) => slot >= from && slot <= to && master?.[1] === seedPort);
    for (let attempt = 0; attempt < 20 && conversationId === ''; attempt++) {
      const group = await call('ann', 'POST', '/conversations', {
        kind: 'group',
        title: 'Choir rehearsal',
        memberIds: [people.ben.id],
      });
      assert.equal(group.status, 201, JSON.stringify(group.body));
      const id = String(group.body.id);
      const slot = Number(await state.cluster('KEYSLOT', `quad:call-key:{${id}}`));
      if (!onSeed(slot)) conversationId = id;
    }
    assert.ok(conversationId, 'no conversation off the first seed node in 20 tries');
  });

  after(async () => {
    for (const participant of participants) await participant.leave().catch(() => undefined);
    for (const socket of sockets) socket.close();
    await Promise.all([api?.stop(), worker?.stop(), ...gateways.map((gateway) => gateway.stop())]);
    await livekit?.stop();
    state?.disconnect();
    await database?.drop();
  });

  it('join, leave with a rotated key, and end: the call state lives on the cluster', async () => {
    const [first, second] = gateways as [ServiceProcess, ServiceProcess];
    const annSocket = await connectSocket(first.baseUrl, people.ann.token);
    const benSocket = await connectSocket(second.baseUrl, people.ben.token);
    sockets.push(annSocket, benSocket);
    const annKeys = record<KeyEvent>(annSocket, 'call:key');
    const benJoins = record<CallEvent>(benSocket, 'call:participant-joined');
    const benEnded = record<CallEvent>(benSocket, 'call:ended');

    const annJoin = await call('ann', 'POST', callPath());
    assert.equal(annJoin.status, 200, JSON.stringify(annJoin.body));
    const callId = String((annJoin.body.call as { id: string }).id);
    const livekitAnswer = annJoin.body.livekit as { url: string; token: string };
    const firstKey = annJoin.body.e2ee as { key: string; keyIndex: number };
    participants.push(await joinLiveKit(livekitAnswer.url, livekitAnswer.token));
    // LiveKit's webhook reached the api, which wrote the cluster and told the other gateway.
    await waitForEntry(
      benJoins,
      (event) => event.callId === callId && event.userId === people.ann.id,
      'ann joined, seen on the second gateway',
      15_000,
    );

    const benJoin = await call('ben', 'POST', callPath());
    assert.equal(benJoin.status, 200, JSON.stringify(benJoin.body));
    assert.equal((benJoin.body.call as { id: string }).id, callId);
    assert.deepEqual(benJoin.body.e2ee, firstKey);
    const benLiveKit = benJoin.body.livekit as { url: string; token: string };
    const ben = await joinLiveKit(benLiveKit.url, benLiveKit.token);
    participants.push(ben);
    await waitFor('ben in the call', () => inCall(people.ben.id), 15_000);

    // Every key of the call carries its hash tag, so they sit on one node of the cluster.
    const tagged = `{${conversationId}}`;
    assert.equal(await state.hget(`quad:call-session:${tagged}`, 'callId'), callId);
    assert.equal(await state.sismember(`quad:call-participants:${tagged}`, people.ben.id), 1);
    assert.ok(await state.get(`quad:call-key:${tagged}`));

    await ben.leave();
    const rotated = await waitForEntry(
      annKeys,
      (event) => event.callId === callId && event.keyIndex === (firstKey.keyIndex + 1) % 16,
      'the rotated key reaches who remains',
      15_000,
    );
    assert.notEqual(rotated.key, firstKey.key);
    await waitFor('ben gone from the call', async () => !(await inCall(people.ben.id)), 15_000);

    const ended = await call('ann', 'DELETE', callPath());
    assert.equal(ended.status, 204, JSON.stringify(ended.body));
    await waitForEntry(benEnded, (event) => event.callId === callId, 'call:ended', 15_000);
    assert.equal(await state.get(`quad:call-key:${tagged}`), null);
    assert.equal(await state.exists(`quad:call-session:${tagged}`), 0);
  });
});
