import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { callApi, createAccount, loginAs } from '../harness/api-client.js';
import { startRedisServer, type TestRedisServer } from '../harness/redis-server.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import { connectSocket, record, request } from '../harness/socket-client.js';
import { createTestDatabase, serviceEnvironment } from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// A member removed while the state Redis is down: the api commits the removal, but its
// "leave the room" broadcast to the gateways cannot be published. When Redis is back, the
// gateway re-checks its rooms (services/socket/room-revalidation.ts), so the removed member
// receives none of the room's later events. Private Redis servers: this test stops one.

interface MessageEvent {
  message: { id: string; conversationId: string };
}

describe('socket gateway after a state Redis outage', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let state: TestRedisServer;
  let cache: TestRedisServer;
  let api: ServiceProcess;
  let gateway: ServiceProcess;
  const sockets: Socket[] = [];
  const people = {} as Record<'ann' | 'ben', { id: string; token: string }>;

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    state = await startRedisServer('state');
    cache = await startRedisServer('cache', state.passwords);
    const environment = (service: 'api' | 'socket') => ({
      ...serviceEnvironment(service, database.url, { state: state.port, cache: cache.port }),
      REDIS_PASSWORD: state.passwords[service],
      RATE_LIMITS: JSON.stringify({ 'login-ip': { limit: 1_000, windowMs: 60_000 } }),
    });
    [api, gateway] = await Promise.all([
      startService('api', environment('api')),
      startService('socket', environment('socket')),
    ]);
    for (const name of ['ann', 'ben'] as const) {
      const account = await createAccount(database.url, name);
      people[name] = { id: account.id, token: (await loginAs(api.baseUrl, name)).token };
    }
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all([api, gateway].map((service) => service?.stop('SIGTERM')));
    await Promise.all([state?.dispose(), cache?.dispose()]);
    await database?.drop();
  });

  it('drops a member removed during the outage from the room once Redis is back', async () => {
    const { ann, ben } = people;
    const group = await callApi(api.baseUrl, 'POST', '/conversations', {
      token: ann.token,
      body: { kind: 'group', title: 'Lab partners', memberIds: [ben.id] },
    });
    const groupId = String(group.body.id);
    const annSocket = await connectSocket(gateway.baseUrl, ann.token, { reconnection: true });
    const benSocket = await connectSocket(gateway.baseUrl, ben.token, { reconnection: true });
    sockets.push(annSocket, benSocket);
    for (const socket of [annSocket, benSocket]) {
      const joined = await request(socket, 'conversation:join', { conversationIds: [groupId] });
      assert.deepEqual(joined.refused, []);
    }
    const annSees = record<MessageEvent>(annSocket, 'message:new');
    const benSees = record<MessageEvent>(benSocket, 'message:new');

    await state.stop();
    const removed = await callApi(
      api.baseUrl,
      'DELETE',
      `/conversations/${groupId}/members/${ben.id}`,
      { token: ann.token },
    );
    assert.equal(removed.status, 204, JSON.stringify(removed.body));
    await state.restart();

    await waitFor('the gateway re-checking its rooms after the outage', async () =>
      gateway.logs.some((line) => line.msg === 'sockets left rooms they were removed from'),
    );
    // The api's and the gateway's Redis connections come back on their own schedules (jittered
    // backoff), and a publish before both are back is dropped (catch-up is the remedy). So
    // send until Ann, in the room on the same instance, gets one: Ben would have it by then.
    const sent: string[] = [];
    await waitFor('a message reaching ann after the outage', async () => {
      const reply = await callApi(api.baseUrl, 'POST', `/conversations/${groupId}/messages`, {
        token: ann.token,
        body: { body: 'only for the remaining members', idempotencyKey: crypto.randomUUID() },
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      sent.push(String(reply.body.id));
      await new Promise((resolve) => setTimeout(resolve, 200));
      return annSees.some((e) => sent.includes(e.message.id));
    });
    assert.deepEqual(
      benSees.filter((e) => sent.includes(e.message.id)),
      [],
      'nothing sent after the removal reaches ben',
    );
  });
});
