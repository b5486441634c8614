import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { Registry } from 'prom-client';
import type { Socket } from 'socket.io-client';
import { createLogger } from '../../lib/observability/logger.js';
import { policy } from '../../lib/policy/policy.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { RealtimePublisher } from '../../lib/realtime/index.js';
import { callApi, createAccount, loginAs } from '../harness/api-client.js';
import { scrapeMetric } from '../harness/service-metrics.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import {
  connectSocket,
  disconnection,
  handshakeRefusal,
  record,
  request,
  waitForEntry,
} from '../harness/socket-client.js';
import { startTcpProxy } from '../harness/tcp-proxy.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedRedisClient,
} from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// The real-time gateway end to end: one api and two socket gateway processes sharing one Redis and
// one PostgreSQL, real socket.io-client connections: cross-instance delivery, strangers kept out,
// catch-up after reconnect, bad input; plus authentication, revocation, idempotent sends and the
// shared message-send limit.

interface Person {
  id: string;
  token: string;
  sessionId: string;
}

interface MessageShape {
  id: string;
  conversationId: string;
  seq: number;
  body: string | null;
}

const SEND_LIMIT = 20;

describe('socket gateway: two instances, one Redis', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let postgres: pg.Pool;
  let api: ServiceProcess;
  let gatewayA: ServiceProcess;
  let gatewayB: ServiceProcess;
  const sockets: Socket[] = [];
  const gatewayOf = new WeakMap<Socket, ServiceProcess>();
  const people = {} as Record<'ann' | 'ben' | 'eve' | 'rita', Person>;
  let groupId: string;
  let eveDirectId: string;

  const open = async (gateway: ServiceProcess, person: Person) => {
    const socket = await connectSocket(gateway.baseUrl, person.token);
    sockets.push(socket);
    gatewayOf.set(socket, gateway);
    return socket;
  };
  const sendOverHttp = async (who: Person, conversationId: string, body: string) => {
    const reply = await callApi(api.baseUrl, 'POST', `/conversations/${conversationId}/messages`, {
      token: who.token,
      body: { body, idempotencyKey: crypto.randomUUID() },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return reply.body as unknown as MessageShape;
  };

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    postgres = new pg.Pool({ connectionString: database.url });
    const environment = (service: 'api' | 'socket') => ({
      ...serviceEnvironment(service, database.url),
      RATE_LIMITS: JSON.stringify({
        'login-ip': { limit: 1_000, windowMs: 60_000 },
        'message-send': { limit: SEND_LIMIT, windowMs: 60_000 },
      }),
    });
    [api, gatewayA, gatewayB] = await Promise.all([
      startService('api', environment('api')),
      startService('socket', environment('socket')),
      startService('socket', environment('socket')),
    ]);
    for (const name of ['ann', 'ben', 'eve', 'rita'] as const) {
      const account = await createAccount(database.url, name);
      people[name] = { id: account.id, ...(await loginAs(api.baseUrl, name)) };
    }
    const { ann, ben, eve, rita } = people;
    const group = await callApi(api.baseUrl, 'POST', '/conversations', {
      token: ann.token,
      body: { kind: 'group', title: 'Year 9 maths', memberIds: [ben.id, rita.id] },
    });
    groupId = String(group.body.id);
    const direct = await callApi(api.baseUrl, 'POST', '/conversations', {
      token: eve.token,
      body: { kind: 'direct', userId: ann.id },
    });
    eveDirectId = String(direct.body.id);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all([api, gatewayA, gatewayB].map((service) => service?.stop('SIGTERM')));
    await postgres?.end();
    await database?.drop();
  });

  it('refuses a handshake without a token or with an invalid one', async () => {
    assert.equal(await handshakeRefusal(gatewayA.baseUrl, undefined), 'authentication_required');
    assert.equal(await handshakeRefusal(gatewayA.baseUrl, 'qs_nonsense'), 'invalid_credentials');
    assert.equal(
      await handshakeRefusal(gatewayB.baseUrl, `${people.ann.token.slice(0, -2)}xx`),
      'invalid_credentials',
    );
  });

  it('delivers a message sent over HTTP to members on both instances', async () => {
    const annOnA = await open(gatewayA, people.ann);
    const benOnB = await open(gatewayB, people.ben);
    for (const socket of [annOnA, benOnB]) {
      const joined = await request(socket, 'conversation:join', { conversationIds: [groupId] });
      assert.deepEqual(joined, { ok: true, joined: [groupId], refused: [] });
    }
    const onA = record<{ message: MessageShape }>(annOnA, 'message:new');
    const onB = record<{ message: MessageShape }>(benOnB, 'message:new');
    const sent = await sendOverHttp(people.ann, groupId, 'homework is on page 12');
    for (const [list, where] of [
      [onA, 'A'],
      [onB, 'B'],
    ] as const) {
      const event = await waitForEntry(
        list,
        (e) => e.message.id === sent.id,
        `delivery on ${where}`,
      );
      assert.equal(event.message.body, 'homework is on page 12');
    }
  });

  it('sends over the socket on A, stores once for a retried key, and delivers on B', async () => {
    const annOnA = await open(gatewayA, people.ann);
    const benOnB = await open(gatewayB, people.ben);
    await request(benOnB, 'conversation:join', { conversationIds: [groupId] });
    const onB = record<{ message: MessageShape }>(benOnB, 'message:new');
    const idempotencyKey = crypto.randomUUID();
    const payload = { conversationId: groupId, body: 'sent over the socket', idempotencyKey };

    const first = await request(annOnA, 'message:send', payload);
    assert.equal(first.ok, true, JSON.stringify(first));
    assert.equal(first.created, true);
    const stored = first.message as MessageShape;
    assert.equal(stored.body, 'sent over the socket');
    // The client did not see the ack and retries, on another instance this time.
    const annOnB = await open(gatewayB, people.ann);
    const retry = await request(annOnB, 'message:send', payload);
    assert.equal(retry.ok, true);
    assert.equal(retry.created, false);
    assert.equal((retry.message as MessageShape).id, stored.id);

    const rows = await postgres.query(
      'SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1 AND body = $2',
      [groupId, 'sent over the socket'],
    );
    assert.equal(rows.rows[0].n, 1, 'stored once');
    await waitForEntry(onB, (e) => e.message.id === stored.id, 'delivery on B');
    // The live event was published once, not once per attempt. A send publishes before it
    // acks, so a second publish by the retry would have reached Redis before this sentinel;
    // Redis hands one subscriber its messages in publish order, and Ben's socket receives them
    // in that order, so once the sentinel is in, any duplicate would be too.
    const sentinel = await request(annOnB, 'message:send', {
      conversationId: groupId,
      body: 'sentinel after the retry',
      idempotencyKey: crypto.randomUUID(),
    });
    assert.equal(sentinel.ok, true, JSON.stringify(sentinel));
    const sentinelId = (sentinel.message as MessageShape).id;
    await waitForEntry(onB, (e) => e.message.id === sentinelId, 'the sentinel on B');
    assert.equal(onB.filter((e) => e.message.id === stored.id).length, 1);
  });

  it('keeps a stranger out: no join, no send, no catch-up, no live events', async () => {
    const eveOnA = await open(gatewayA, people.eve);
    const eveOnB = await open(gatewayB, people.eve);
    const annOnB = await open(gatewayB, people.ann);
    const joined = await request(eveOnA, 'conversation:join', {
      conversationIds: [groupId, eveDirectId],
    });
    assert.deepEqual(joined, { ok: true, joined: [eveDirectId], refused: [groupId] });
    await request(eveOnB, 'conversation:join', { conversationIds: [eveDirectId] });
    const leakedA = record<{ message: MessageShape }>(eveOnA, 'message:new');
    const leakedB = record<{ message: MessageShape }>(eveOnB, 'message:new');

    const send = await request(eveOnA, 'message:send', {
      conversationId: groupId,
      body: 'let me in',
      idempotencyKey: crypto.randomUUID(),
    });
    assert.equal(send.ok, false);
    assert.equal(send.error?.code, 'not_found');
    const sync = await request(eveOnB, 'sync', {
      conversations: [{ conversationId: groupId, lastMessageId: null }],
    });
    assert.deepEqual(
      (sync.conversations as Array<{ error: { code: string } }>)[0]?.error.code,
      'not_found',
    );
    const read = await request(eveOnA, 'message:read', {
      conversationId: groupId,
      upToMessageId: crypto.randomUUID(),
    });
    assert.equal(read.error?.code, 'not_found');

    const secret = await sendOverHttp(people.ann, groupId, 'only for the group');
    // Published after the secret on the same channel: once Eve has it, she would have had
    // the secret too if it were going to reach her.
    await request(annOnB, 'conversation:join', { conversationIds: [eveDirectId] });
    const sentinel = await sendOverHttp(people.ann, eveDirectId, 'hello Eve');
    await waitForEntry(leakedA, (e) => e.message.id === sentinel.id, 'sentinel on A');
    await waitForEntry(leakedB, (e) => e.message.id === sentinel.id, 'sentinel on B');
    for (const list of [leakedA, leakedB]) {
      assert.equal(list.filter((e) => e.message.id === secret.id).length, 0);
      assert.ok(list.every((e) => e.message.conversationId === eveDirectId));
    }
  });

  it('catches up exactly the missed messages after reconnecting to the other instance', async () => {
    const benOnB = await open(gatewayB, people.ben);
    await request(benOnB, 'conversation:join', { conversationIds: [groupId] });
    const seen = record<{ message: MessageShape }>(benOnB, 'message:new');
    const lastSeen = await sendOverHttp(people.ann, groupId, 'before the tunnel');
    await waitForEntry(seen, (e) => e.message.id === lastSeen.id, 'the last message seen');
    benOnB.close();

    const missed = [];
    for (let i = 1; i <= 3; i++)
      missed.push(await sendOverHttp(people.ann, groupId, `missed ${i}`));

    const benOnA = await open(gatewayA, people.ben);
    const live = record<{ message: MessageShape }>(benOnA, 'message:new');
    await request(benOnA, 'conversation:join', { conversationIds: [groupId] });
    const sync = await request(benOnA, 'sync', {
      conversations: [{ conversationId: groupId, lastMessageId: lastSeen.id }],
    });
    assert.equal(sync.ok, true, JSON.stringify(sync));
    const [answer] = sync.conversations as Array<{ messages: MessageShape[]; complete: boolean }>;
    assert.deepEqual(
      answer?.messages.map((message) => message.id),
      missed.map((message) => message.id),
      'every missed message, oldest first, nothing else',
    );
    assert.equal(answer?.complete, true);
    assert.equal(live.length, 0, 'nothing sent since the reconnect');

    // A gap larger than one page comes in pages, without duplicates or holes.
    const everything = await request(benOnA, 'sync', {
      conversations: [{ conversationId: groupId, lastMessageId: null }],
    });
    const all =
      (everything.conversations as Array<{ messages: MessageShape[] }>)[0]?.messages ?? [];
    const seqs = all.map((message) => message.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    assert.equal(new Set(seqs).size, seqs.length);
    assert.equal(all.at(-1)?.id, missed.at(-1)?.id);

    const unknown = await request(benOnA, 'sync', {
      conversations: [{ conversationId: groupId, lastMessageId: crypto.randomUUID() }],
    });
    const [unknownAnswer] = unknown.conversations as Array<{ error: { code: string } }>;
    assert.equal(unknownAnswer?.error.code, 'not_found');
  });

  it("pushes a read receipt to the conversation and the new unread count to the reader's other devices", async () => {
    const benPhone = await open(gatewayA, people.ben);
    const benLaptop = await open(gatewayB, people.ben);
    const annOnA = await open(gatewayA, people.ann);
    await request(annOnA, 'conversation:join', { conversationIds: [groupId] });
    const receipts = record<{
      conversationId: string;
      receipt: { userId: string; lastReadMessageId: string };
    }>(annOnA, 'receipt:updated');
    const unread = record<{ conversationId: string; unreadCount: number }>(
      benLaptop,
      'unread:updated',
    );
    const newest = await sendOverHttp(people.ann, groupId, 'read me');

    const read = await request(benPhone, 'message:read', {
      conversationId: groupId,
      upToMessageId: newest.id,
    });
    assert.equal(read.ok, true, JSON.stringify(read));
    const receipt = await waitForEntry(
      receipts,
      (e) => e.receipt.userId === people.ben.id && e.receipt.lastReadMessageId === newest.id,
      'the receipt in the conversation',
    );
    assert.equal(receipt.conversationId, groupId);
    const count = await waitForEntry(
      unread,
      (e) => e.conversationId === groupId,
      'the count on the laptop',
    );
    assert.equal(count.unreadCount, 0);
    // The same count the api answers.
    const overHttp = await callApi(api.baseUrl, 'GET', '/me/unread', { token: people.ben.token });
    const counts = overHttp.body.conversations as
      | Array<{ conversationId: string; unreadCount: number }>
      | undefined;
    assert.equal(
      counts?.find((c) => c.conversationId === groupId)?.unreadCount,
      0,
      JSON.stringify(overHttp.body),
    );
  });

  it('disconnects the sockets of a session revoked through the api, on every instance', async () => {
    const second = await loginAs(api.baseUrl, 'ben');
    const person = { ...people.ben, ...second };
    const onA = await open(gatewayA, person);
    const onB = await open(gatewayB, person);
    const stays = await open(gatewayA, people.ben); // another session of the same user
    const notices = [
      record<{ code: string }>(onA, 'quad:disconnecting'),
      record(onB, 'quad:disconnecting'),
    ];
    const closed = [disconnection(onA), disconnection(onB)];

    const revoked = await callApi(api.baseUrl, 'DELETE', `/auth/sessions/${second.sessionId}`, {
      token: people.ben.token,
    });
    assert.equal(revoked.status, 204, JSON.stringify(revoked.body));
    assert.deepEqual(await Promise.all(closed), ['io server disconnect', 'io server disconnect']);
    for (const list of notices) assert.equal(list[0]?.code, 'session_revoked');
    assert.equal(stays.connected, true, 'the other session stays connected');
    assert.equal(await handshakeRefusal(gatewayB.baseUrl, second.token), 'invalid_credentials');
  });

  it('limits sends per user across both instances, with the retry time in the ack', async () => {
    const onA = await open(gatewayA, people.rita);
    const onB = await open(gatewayB, people.rita);
    const send = (socket: Socket, i: number) =>
      request(socket, 'message:send', {
        conversationId: groupId,
        body: `line ${i}`,
        idempotencyKey: crypto.randomUUID(),
      });
    for (let i = 0; i < SEND_LIMIT; i++) {
      const answer = await send(i % 2 === 0 ? onA : onB, i);
      assert.equal(answer.ok, true, `send ${i}: ${JSON.stringify(answer)}`);
    }
    for (const socket of [onA, onB]) {
      const refused = await send(socket, SEND_LIMIT);
      assert.equal(refused.ok, false);
      assert.equal(refused.error?.code, 'rate_limited');
      assert.ok((refused.error?.retryAfterMs ?? 0) > 0, JSON.stringify(refused));
    }
    // HTTP spends the same budget.
    const overHttp = await callApi(api.baseUrl, 'POST', `/conversations/${groupId}/messages`, {
      token: people.rita.token,
      body: { body: 'and over http', idempotencyKey: crypto.randomUUID() },
    });
    assert.equal(overHttp.status, 429);
  });

  it('answers malformed and unknown events with an ack error and keeps serving', async () => {
    const socket = await open(gatewayA, people.ann);
    const cases: Array<[string, unknown, string]> = [
      ['message:send', { conversationId: groupId, body: 'x' }, 'invalid_payload'],
      [
        'message:send',
        { conversationId: 'not-a-uuid', body: 'x', idempotencyKey: 'k' },
        'invalid_payload',
      ],
      [
        'message:send',
        { conversationId: groupId, body: 'x'.repeat(4_001), idempotencyKey: 'k' },
        'invalid_payload',
      ],
      [
        'message:send',
        { conversationId: groupId, body: 'x', idempotencyKey: 'k', admin: true },
        'invalid_payload',
      ],
      // The text rule the api applies: text PostgreSQL cannot store is refused, never an
      // internal error.
      [
        'message:send',
        { conversationId: groupId, body: 'a\u0000b', idempotencyKey: 'k' },
        'invalid_payload',
      ],
      [
        'message:send',
        { conversationId: groupId, body: 'x', idempotencyKey: 'k\u0000' },
        'invalid_payload',
      ],
      [
        'message:send',
        { conversationId: groupId, body: 'half \ud800 a pair', idempotencyKey: 'k' },
        'invalid_payload',
      ],
      ['conversation:join', { conversationIds: [] }, 'invalid_payload'],
      ['conversation:join', 'just a string', 'invalid_payload'],
      ['sync', null, 'invalid_payload'],
      ['admin:flushall', {}, 'unknown_event'],
    ];
    for (const [event, payload, code] of cases) {
      const answer = await request(socket, event, payload);
      assert.equal(answer.ok, false, `${event} ${JSON.stringify(payload)}`);
      assert.equal(answer.error?.code, code, `${event}: ${JSON.stringify(answer)}`);
    }
    const stillServing = await request(socket, 'conversation:join', { conversationIds: [groupId] });
    assert.equal(stillServing.ok, true);
  });

  it('closes a connection that sends an oversized frame, and only that one', async () => {
    const victim = await open(gatewayB, people.ann);
    const bystander = await open(gatewayB, people.ben);
    const closed = disconnection(victim);
    victim.emit('message:send', {
      conversationId: groupId,
      body: 'x'.repeat(200_000),
      idempotencyKey: 'k',
    });
    assert.equal(await closed, 'transport close');
    const answer = await request(bystander, 'conversation:join', { conversationIds: [groupId] });
    assert.equal(answer.ok, true, 'the process keeps serving');
  });

  it('disconnects a client that keeps flooding refused events, saying why', async () => {
    const flooder = await open(gatewayA, people.eve);
    const notices = record<{ code: string }>(flooder, 'quad:disconnecting');
    const closed = disconnection(flooder);
    for (let i = 0; i < 200; i++) flooder.emit('not:an:event', { i });
    assert.equal(await closed, 'io server disconnect');
    assert.equal(notices[0]?.code, 'rate_limited');
  });

  it('cuts a connection that stopped reading once its queue passes the bound; readers get everything, and it reconnects', async () => {
    // Ben's client reaches gateway B through a relay that stops reading from the gateway: a
    // frozen tab. Rita reads normally. Large messages flood the room until B's kernel buffers
    // toward Ben are full and frames queue in the gateway.
    const relay = await startTcpProxy(Number(new URL(gatewayB.baseUrl).port));
    const publisherRedis = sharedRedisClient('state', 'api');
    const publisher = new RealtimePublisher({
      redis: publisherRedis,
      keyPrefix: 'quad:',
      registry: new Registry(),
      logger: createLogger('test', 'silent'),
    });
    const reader = await connectSocket(gatewayB.baseUrl, people.rita.token);
    const frozen = await connectSocket(`http://127.0.0.1:${relay.port}`, people.ben.token, {
      reconnection: true,
    });
    try {
      for (const socket of [reader, frozen]) {
        const joined = await request(socket, 'conversation:join', { conversationIds: [groupId] });
        assert.deepEqual(joined.joined, [groupId]);
      }
      const received = record<{ message: MessageShape }>(reader, 'message:new');
      const cut = disconnection(frozen);
      const reconnected = new Promise<void>((resolve) =>
        cut.then(() => frozen.once('connect', () => resolve())),
      );
      const cuts = () => scrapeMetric(gatewayB.baseUrl, 'socket_slow_consumer_disconnects_total');
      assert.equal(await cuts(), 0);
      relay.stall();

      const body = 'x'.repeat(4_000);
      const batch = 200;
      // Far more than the kernel's buffers (a few MB) plus the bound: without the bound the
      // queue only grows.
      const most = 12_000;
      let published = 0;
      while ((await cuts()) === 0) {
        assert.ok(published < most, `no cut after ${published} frames queued for a stalled client`);
        for (let i = 0; i < batch; i++) {
          published++;
          void publisher.messageCreated({
            id: crypto.randomUUID(),
            conversationId: groupId,
            seq: published,
            senderId: people.ann.id,
            body,
            createdAt: new Date().toISOString(),
            editedAt: null,
            deletedAt: null,
          });
        }
        // Paced by the healthy reader, so the flood is the stalled client's problem alone.
        await waitFor(`rita holding ${published} frames`, async () => received.length >= published);
      }
      assert.equal(await cuts(), 1, 'one connection cut');
      assert.ok(published > policy.realtime.maxQueuedFrames);
      assert.equal(reader.connected, true, 'the reader was never cut');
      assert.deepEqual(
        received.map((event) => event.message.seq),
        Array.from({ length: published }, (_, i) => i + 1),
        'the reader got every frame, in order',
      );
      // Once the frozen client reads again it finds its connection closed, and reconnects by
      // itself (then catches up as after any reconnect).
      relay.resume();
      assert.equal(await cut, 'transport close');
      await reconnected;
      assert.equal(frozen.connected, true);
    } finally {
      reader.close();
      frozen.close();
      await relay.close();
      publisherRedis.disconnect();
    }
  });

  it('coalesces a burst into one room for clients that asked for batches; the others get every event one by one', async () => {
    const publisherRedis = sharedRedisClient('state', 'api');
    const publisher = new RealtimePublisher({
      redis: publisherRedis,
      keyPrefix: 'quad:',
      registry: new Registry(),
      logger: createLogger('test', 'silent'),
    });
    const plain = await connectSocket(gatewayA.baseUrl, people.rita.token);
    const batching = await connectSocket(gatewayA.baseUrl, people.ben.token, { batch: true });
    try {
      for (const socket of [plain, batching]) {
        const joined = await request(socket, 'conversation:join', { conversationIds: [groupId] });
        assert.deepEqual(joined.joined, [groupId]);
      }
      type NewMessage = { message: MessageShape; emittedAt: number };
      const plainSingle = record<NewMessage>(plain, 'message:new');
      const plainBatches = record(plain, 'message:batch');
      const single = record<NewMessage>(batching, 'message:new');
      const batches = record<{ events: NewMessage[] }>(batching, 'message:batch');
      /** What the batching client holds, unpacked, in arrival order. */
      const unpacked: number[] = [];
      batching.on('message:new', (event: NewMessage) => unpacked.push(event.message.seq));
      batching.on('message:batch', (batch: { events: NewMessage[] }) => {
        for (const event of batch.events) unpacked.push(event.message.seq);
      });

      // One burst, published back to back: it reaches the gateway within a read or two.
      const burst = 50;
      for (let seq = 1; seq <= burst; seq++) {
        void publisher.messageCreated({
          id: crypto.randomUUID(),
          conversationId: groupId,
          seq,
          senderId: people.ann.id,
          body: `burst ${seq}`,
          createdAt: new Date().toISOString(),
          editedAt: null,
          deletedAt: null,
        });
      }
      const everything = Array.from({ length: burst }, (_, i) => i + 1);
      await waitFor('both clients holding the burst', async () => {
        return plainSingle.length === burst && unpacked.length === burst;
      });
      assert.deepEqual(
        plainSingle.map((event) => event.message.seq),
        everything,
        'a client that did not ask gets every event, in order',
      );
      assert.equal(plainBatches.length, 0, 'and never a batch');
      assert.deepEqual(unpacked, everything, 'a batching client gets every event, in order');
      const frames = single.length + batches.length;
      assert.ok(frames < burst, `${frames} frames for ${burst} events`);
      for (const batch of batches) assert.ok(batch.events.length >= 2);
      assert.ok(
        (await scrapeMetric(gatewayA.baseUrl, 'socket_message_batch_size_count')) >= batches.length,
      );
    } finally {
      plain.close();
      batching.close();
      publisherRedis.disconnect();
    }
  });

  it('measures events and broadcast delivery in its metrics', async () => {
    // One observation per broadcast on each instance, from the publisher's emittedAt.
    assert.ok(
      (await scrapeMetric(gatewayB.baseUrl, 'socket_broadcast_delivery_seconds_count', {
        event: 'message:new',
      })) > 0,
    );
    assert.ok(
      (await scrapeMetric(gatewayB.baseUrl, 'socket_events_sent_total', { event: 'message:new' })) >
        0,
    );
    assert.ok(
      (await scrapeMetric(gatewayA.baseUrl, 'socket_events_received_total', {
        event: 'message:send',
        result: 'ok',
      })) > 0,
    );
    assert.ok(
      (await scrapeMetric(gatewayA.baseUrl, 'socket_events_received_total', {
        result: 'unknown_event',
      })) > 0,
    );
    assert.equal(
      await scrapeMetric(gatewayA.baseUrl, 'socket_disconnects_total', { reason: 'rate_limited' }),
      1,
    );
    const openOnA = sockets.filter((s) => s.connected && gatewayOf.get(s) === gatewayA);
    assert.equal(await scrapeMetric(gatewayA.baseUrl, 'socket_connections'), openOnA.length);
  });
});
