import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { callApi, createAccount, loginAs } from '../harness/api-client.js';
import { assertListAndUnreadMatch } from '../harness/messaging-truth.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import {
  connectSocket,
  disconnection,
  record,
  request,
  waitForEntry,
} from '../harness/socket-client.js';
import { createTestDatabase, serviceEnvironment } from '../harness/test-environment.js';

// Three gateways and two apis on one Redis Cluster (the shared one of the cluster pass): what
// a school that outgrew one machine runs. Every instance shares nothing but Redis and
// PostgreSQL; these are the behaviours that break first when instances disagree.

interface Person {
  id: string;
  token: string;
}

interface PresenceEvent {
  userId: string;
  online: boolean;
}

/** Small, so the test spends the whole budget; spent across every instance. */
const SEND_LIMIT = 24;

describe('many instances on one Redis Cluster: 3 gateways, 2 apis', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let apis: ServiceProcess[] = [];
  const gateways: ServiceProcess[] = [];
  const sockets: Socket[] = [];
  const people = {} as Record<'ann' | 'ben' | 'cid' | 'dot' | 'rita', Person>;
  let groupId = '';

  const open = async (gateway: ServiceProcess, person: Person) => {
    const socket = await connectSocket(gateway.baseUrl, person.token);
    sockets.push(socket);
    return socket;
  };
  const gateway = (index: number) => gateways[index] as ServiceProcess;
  const api = (index: number) => apis[index] as ServiceProcess;

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    const environment = (service: 'api' | 'socket') => ({
      ...serviceEnvironment(service, database.url),
      RATE_LIMITS: JSON.stringify({
        'login-ip': { limit: 1_000, windowMs: 60_000 },
        'message-send': { limit: SEND_LIMIT, windowMs: 60_000 },
      }),
    });
    // Two at a time: five Node processes compiling at once on two cores can outlast the
    // harness' start-up wait.
    apis = await Promise.all([
      startService('api', environment('api')),
      startService('api', environment('api')),
    ]);
    for (let i = 0; i < 3; i++) gateways.push(await startService('socket', environment('socket')));
    for (const name of ['ann', 'ben', 'cid', 'dot', 'rita'] as const) {
      const account = await createAccount(database.url, name);
      people[name] = { id: account.id, token: (await loginAs(api(1).baseUrl, name)).token };
    }
    const group = await callApi(api(0).baseUrl, 'POST', '/conversations', {
      token: people.ann.token,
      body: {
        kind: 'group',
        title: 'Sixth form council',
        memberIds: [people.ben.id, people.cid.id, people.dot.id, people.rita.id],
      },
    });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    groupId = String(group.body.id);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all([...apis, ...gateways].map((service) => service.stop('SIGTERM')));
    await database?.drop();
  });

  it('delivers what either api or any gateway accepts to members on all three gateways', async () => {
    const members = await Promise.all([
      open(gateway(0), people.ann),
      open(gateway(1), people.ben),
      open(gateway(2), people.cid),
    ]);
    const received = members.map((socket) =>
      record<{ message: { id: string; body: string } }>(socket, 'message:new'),
    );
    for (const socket of members) {
      const joined = await request(socket, 'conversation:join', { conversationIds: [groupId] });
      assert.equal(joined.ok, true, JSON.stringify(joined));
    }
    const sentIds: string[] = [];
    for (const [index, instance] of apis.entries()) {
      const reply = await callApi(instance.baseUrl, 'POST', `/conversations/${groupId}/messages`, {
        token: people.dot.token,
        body: { body: `over http via api ${index}`, idempotencyKey: crypto.randomUUID() },
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      sentIds.push(String(reply.body.id));
    }
    const sender = await open(gateway(2), people.dot);
    const overSocket = await request(sender, 'message:send', {
      conversationId: groupId,
      body: 'over the socket via gateway 2',
      idempotencyKey: crypto.randomUUID(),
    });
    assert.equal(overSocket.ok, true, JSON.stringify(overSocket));
    sentIds.push((overSocket.message as { id: string }).id);

    for (const [index, list] of received.entries()) {
      for (const id of sentIds) {
        await waitForEntry(list, (event) => event.message.id === id, `${id} on gateway ${index}`);
      }
      assert.equal(
        list.filter((event) => sentIds.includes(event.message.id)).length,
        sentIds.length,
        `gateway ${index} delivered each message once`,
      );
    }
  });

  it('serves unread counts of many conversations, heads spread over the shards, as PostgreSQL says, from either api', async () => {
    const sql = new pg.Pool({ connectionString: database.url, max: 2 });
    try {
      const send = async (instance: ServiceProcess, who: Person, room: string, body: string) => {
        const reply = await callApi(instance.baseUrl, 'POST', `/conversations/${room}/messages`, {
          token: who.token,
          body: { body, idempotencyKey: crypto.randomUUID() },
        });
        assert.equal(reply.status, 201, JSON.stringify(reply.body));
        return String(reply.body.id);
      };
      const rooms: string[] = [];
      for (let i = 0; i < 12; i++) {
        const created = await callApi(api(i % 2).baseUrl, 'POST', '/conversations', {
          token: people.ann.token,
          body: { kind: 'group', title: `Club ${i}`, memberIds: [people.ben.id, people.dot.id] },
        });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        rooms.push(String(created.body.id));
      }
      for (const [i, room] of rooms.entries()) await send(api(i % 2), people.ben, room, `hi ${i}`);
      const annOn = (instance: ServiceProcess) => (path: string) =>
        callApi(instance.baseUrl, 'GET', path, { token: people.ann.token });
      // Cold, then warm on each api: the counts now come from cached bases and heads.
      for (const instance of [api(0), api(1), api(0)]) {
        await assertListAndUnreadMatch(
          sql,
          people.ann.id,
          annOn(instance),
          'ann, after the first messages',
        );
      }
      // Newer messages move the heads past the cached bases; a read moves one base.
      const newer: string[] = [];
      for (const room of rooms.slice(0, 6))
        newer.push(await send(api(1), people.dot, room, 'more'));
      const read = await callApi(api(0).baseUrl, 'POST', `/conversations/${rooms[0]}/read`, {
        token: people.ann.token,
        body: { upToMessageId: newer[0] },
      });
      assert.ok(read.status < 300, JSON.stringify(read.body));
      for (const instance of [api(1), api(0)]) {
        await assertListAndUnreadMatch(sql, people.ann.id, annOn(instance), 'ann, after more');
      }
    } finally {
      await sql.end();
    }
  });

  it('keeps a user online while any of their tabs on three gateways is open', async () => {
    const watcher = await open(gateway(1), people.ben);
    await request(watcher, 'conversation:join', { conversationIds: [groupId] });
    const changes = record<PresenceEvent>(watcher, 'presence:changed');
    const presenceOfRita = async () => {
      const answer = await request(watcher, 'presence:query', { userIds: [people.rita.id] });
      assert.equal(answer.ok, true, JSON.stringify(answer));
      return (answer.presence as Record<string, { online: boolean }>)[people.rita.id]?.online;
    };
    const tabs: Socket[] = [];
    for (const index of [0, 1, 2]) tabs.push(await open(gateway(index), people.rita));
    await waitForEntry(changes, (e) => e.userId === people.rita.id && e.online, 'rita online');
    assert.equal(await presenceOfRita(), true);

    for (const tab of tabs.slice(0, 2)) {
      tab.close();
      await disconnection(tab);
      assert.equal(await presenceOfRita(), true, 'a tab is still open elsewhere');
    }
    assert.equal(changes.filter((e) => e.userId === people.rita.id && !e.online).length, 0);
    tabs[2]?.close();
    await waitForEntry(changes, (e) => e.userId === people.rita.id && !e.online, 'rita offline');
    assert.equal(await presenceOfRita(), false);
    assert.equal(
      changes.filter((e) => e.userId === people.rita.id && e.online).length,
      1,
      'online announced once for three tabs',
    );
    assert.equal(
      changes.filter((e) => e.userId === people.rita.id && !e.online).length,
      1,
      'offline announced once, by one instance',
    );
  });

  it('spends one global send budget exactly, whichever instance a send reaches', async () => {
    const sockets = await Promise.all(gateways.map((instance) => open(instance, people.cid)));
    const attempts = SEND_LIMIT + 16;
    const outcomes = await Promise.all(
      Array.from({ length: attempts }, async (_, i): Promise<'accepted' | 'refused'> => {
        const body = `budget ${i}`;
        const idempotencyKey = crypto.randomUUID();
        // Alternate over the five instances: two apis over HTTP, three gateways over sockets.
        const target = i % 5;
        if (target < 2) {
          const reply = await callApi(
            api(target).baseUrl,
            'POST',
            `/conversations/${groupId}/messages`,
            {
              token: people.cid.token,
              body: { body, idempotencyKey },
            },
          );
          if (reply.status === 201) return 'accepted';
          assert.equal(reply.status, 429, JSON.stringify(reply.body));
          return 'refused';
        }
        const answer = await request(sockets[target - 2] as Socket, 'message:send', {
          conversationId: groupId,
          body,
          idempotencyKey,
        });
        if (answer.ok) return 'accepted';
        assert.equal(answer.error?.code, 'rate_limited', JSON.stringify(answer));
        return 'refused';
      }),
    );
    assert.equal(outcomes.filter((outcome) => outcome === 'accepted').length, SEND_LIMIT);
    assert.equal(outcomes.filter((outcome) => outcome === 'refused').length, attempts - SEND_LIMIT);
  });
});
