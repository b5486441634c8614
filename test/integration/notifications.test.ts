import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import {
  type AccessRow,
  assertAccessTable,
  assertTableCoversTags,
} from '../harness/access-table.js';
import {
  callApi,
  createAccount,
  createConversation,
  loginAs,
  type Reply,
  sendMessage,
} from '../harness/api-client.js';
import type { Person } from '../harness/private-api.js';
import {
  generousRateLimits,
  type PrivateServers,
  startPrivateServers,
} from '../harness/private-servers.js';
import { scrapeMetric } from '../harness/service-metrics.js';
import { type QuadService, type ServiceProcess, startService } from '../harness/service-process.js';
import { connectSocket, disconnection } from '../harness/socket-client.js';
import { waitFor } from '../harness/wait-for.js';

// In-app notifications end to end: messages sent over HTTP, the worker's relay enqueues one
// delivery job per message, the job notifies the members who are offline (presence from the socket
// gateway), batched to one notification per conversation while unread. Private Redis servers: the
// delivery queue's job ids are outbox ids, which every test database numbers from 1.

interface NotificationShape {
  id: string;
  conversationId: string;
  unreadCount: number;
  firstMessageId: string;
  lastMessageId: string;
  firstSeq: number;
  lastSeq: number;
  readAt: string | null;
}

function assertStatus(reply: Reply, status: number, context: string) {
  assert.equal(reply.status, status, `${context}: ${JSON.stringify(reply.body)}`);
}

describe('notifications: offline members, batched per conversation', () => {
  let servers: PrivateServers;
  let api: ServiceProcess;
  let gateway: ServiceProcess;
  let worker: ServiceProcess;
  const sockets: Socket[] = [];
  const people = {} as Record<'ann' | 'bob' | 'cat', Person>;
  let directId: string;
  let groupId: string;
  let sentSoFar = 0;

  const environment = (service: QuadService) =>
    servers.environment(service, { RATE_LIMITS: generousRateLimits });
  const call = (who: Person, method: string, path: string, body?: unknown) =>
    callApi(api.baseUrl, method, path, { token: who.token, body });
  const send = async (who: Person, conversationId: string, text: string) => {
    const id = await sendMessage(api.baseUrl, who.token, conversationId, text);
    sentSoFar += 1;
    return id;
  };
  /** Every delivery job of the messages sent so far has run. */
  const deliveriesDone = () =>
    waitFor(`${sentSoFar} delivery jobs completed`, async () => {
      const done = await scrapeMetric(worker.baseUrl, 'worker_jobs_total', {
        queue: 'delivery',
        result: 'completed',
      });
      assert.ok(done <= sentSoFar, `${done} jobs for ${sentSoFar} messages`);
      return done === sentSoFar;
    });
  const notificationsOf = async (who: Person, query = '') => {
    const reply = await call(who, 'GET', `/notifications${query}`);
    assertStatus(reply, 200, 'list notifications');
    return reply.body as { notifications: NotificationShape[]; nextCursor?: string };
  };
  const unreadOf = async (who: Person) => {
    const reply = await call(who, 'GET', '/notifications/unread-count');
    assertStatus(reply, 200, 'unread notifications');
    return reply.body as { notifications: number; messages: number };
  };
  const online = (who: Person, expected: boolean) =>
    waitFor(`${expected ? 'online' : 'offline'}`, async () => {
      const reply = await call(people.ann, 'POST', '/presence/query', { userIds: [who.id] });
      const presence = reply.body.presence as Record<string, { online: boolean }>;
      return presence[who.id]?.online === expected;
    });

  before(async () => {
    servers = await startPrivateServers();
    const { database } = servers;
    [api, gateway, worker] = await Promise.all([
      startService('api', environment('api')),
      startService('socket', environment('socket')),
      startService('worker', environment('worker')),
    ]);
    for (const name of ['ann', 'bob', 'cat'] as const) {
      const account = await createAccount(database.url, name);
      people[name] = { id: account.id, token: (await loginAs(api.baseUrl, name)).token };
    }
    directId = await createConversation(api.baseUrl, people.ann.token, {
      kind: 'direct',
      userId: people.bob.id,
    });
    groupId = await createConversation(api.baseUrl, people.ann.token, {
      kind: 'group',
      title: 'Chemistry',
      memberIds: [people.bob.id],
    });
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all([api, gateway, worker].map((service) => service?.stop('SIGTERM')));
    await servers?.dispose();
  });

  it('five messages while bob is offline make one notification counting five', async () => {
    const { ann, bob } = people;
    const ids: string[] = [];
    for (let index = 1; index <= 5; index++) ids.push(await send(ann, directId, `m${index}`));
    await deliveriesDone();
    const { notifications } = await notificationsOf(bob);
    assert.equal(notifications.length, 1, JSON.stringify(notifications));
    const [notification] = notifications as [NotificationShape];
    assert.equal(notification.conversationId, directId);
    assert.equal(notification.unreadCount, 5);
    assert.equal(notification.firstMessageId, ids[0]);
    assert.equal(notification.lastMessageId, ids[4]);
    assert.equal(notification.readAt, null);
    assert.deepEqual(await unreadOf(bob), { notifications: 1, messages: 5 });
    // The sender is never notified of her own messages.
    assert.deepEqual((await notificationsOf(ann)).notifications, []);
  });

  it('reading the notification closes it; reading it again changes nothing', async () => {
    const { bob } = people;
    const [open] = (await notificationsOf(bob)).notifications as [NotificationShape];
    const read = await call(bob, 'POST', `/notifications/${open.id}/read`);
    assertStatus(read, 200, 'read notification');
    assert.ok(read.body.readAt);
    const again = await call(bob, 'POST', `/notifications/${open.id}/read`);
    assertStatus(again, 200, 'read again');
    assert.equal(again.body.readAt, read.body.readAt);
    assert.deepEqual(await unreadOf(bob), { notifications: 0, messages: 0 });
  });

  it('bob online: messages make no notification', async () => {
    const { ann, bob } = people;
    const socket = await connectSocket(gateway.baseUrl, bob.token);
    sockets.push(socket);
    await online(bob, true);
    await send(ann, directId, 'while you are here');
    await send(ann, groupId, 'group, while you are here');
    await deliveriesDone();
    assert.deepEqual(await unreadOf(bob), { notifications: 0, messages: 0 });
    socket.close();
    await disconnection(socket);
    await online(bob, false);
  });

  it('offline again: a new notification per conversation; reading the conversation closes it', async () => {
    const { ann, bob } = people;
    const direct1 = await send(ann, directId, 'back to you');
    const direct2 = await send(ann, directId, 'and again');
    await send(ann, groupId, 'group news');
    await deliveriesDone();
    const { notifications } = await notificationsOf(bob);
    const open = notifications.filter((notification) => notification.readAt === null);
    assert.deepEqual(
      open.map((n) => [n.conversationId, n.unreadCount]).sort(),
      [
        [directId, 2],
        [groupId, 1],
      ].sort(),
    );
    assert.deepEqual(await unreadOf(bob), { notifications: 2, messages: 3 });
    // Reading the direct conversation only up to the first of the two keeps the second unread.
    assertStatus(
      await call(bob, 'POST', `/conversations/${directId}/read`, { upToMessageId: direct1 }),
      200,
      'mark read (partly)',
    );
    assert.deepEqual(await unreadOf(bob), { notifications: 2, messages: 2 });
    assertStatus(
      await call(bob, 'POST', `/conversations/${directId}/read`, { upToMessageId: direct2 }),
      200,
      'mark read',
    );
    assert.deepEqual(await unreadOf(bob), { notifications: 1, messages: 1 });
  });

  it('lists newest first by cursor, and read-all closes the rest', async () => {
    const { bob } = people;
    const all = (await notificationsOf(bob)).notifications;
    assert.equal(all.length, 3);
    const first = await notificationsOf(bob, '?limit=2');
    assert.equal(first.notifications.length, 2);
    assert.ok(first.nextCursor);
    const second = await notificationsOf(bob, `?limit=2&cursor=${first.nextCursor}`);
    assert.equal(second.nextCursor, undefined);
    assert.deepEqual(
      [...first.notifications, ...second.notifications].map((n) => n.id),
      all.map((n) => n.id),
    );
    const readAll = await call(bob, 'POST', '/notifications/read-all');
    assertStatus(readAll, 200, 'read all');
    assert.deepEqual(readAll.body, { read: 1 });
    assert.deepEqual(await unreadOf(bob), { notifications: 0, messages: 0 });
    const badCursor = await call(bob, 'GET', `/notifications?cursor=${crypto.randomUUID()}`);
    assertStatus(badCursor, 400, 'unknown cursor');
  });

  it('a stranger or an anonymous caller gets 404/401 and never data', async () => {
    const { bob, cat } = people;
    const [someone] = (await notificationsOf(bob)).notifications as [NotificationShape];
    type Who = 'anonymous' | 'badToken' | 'stranger';
    const credentials: Record<Who, { token?: string }> = {
      anonymous: {},
      badToken: { token: 'c'.repeat(43) },
      stranger: { token: cat.token },
    };
    const unauthenticated = { anonymous: 401, badToken: 401 };
    const table: AccessRow<Who>[] = [
      { method: 'GET', path: '/notifications', route: '/notifications', expect: unauthenticated },
      {
        method: 'GET',
        path: '/notifications/unread-count',
        route: '/notifications/unread-count',
        expect: unauthenticated,
      },
      {
        method: 'POST',
        path: '/notifications/read-all',
        route: '/notifications/read-all',
        expect: unauthenticated,
      },
      {
        method: 'POST',
        path: `/notifications/${someone.id}/read`,
        route: '/notifications/{id}/read',
        expect: { ...unauthenticated, stranger: 404 },
      },
      // One that does not exist answers exactly as someone else's.
      {
        method: 'POST',
        path: `/notifications/${crypto.randomUUID()}/read`,
        route: '/notifications/{id}/read',
        expect: { stranger: 404 },
      },
    ];
    await assertTableCoversTags(api.baseUrl, table, ['notifications']);
    await assertAccessTable(api.baseUrl, table, credentials);
    // The stranger's own lists are empty, and bob's notification is as it was.
    assert.deepEqual((await notificationsOf(cat)).notifications, []);
    assert.deepEqual(await unreadOf(cat), { notifications: 0, messages: 0 });
    const after = (await notificationsOf(bob)).notifications.find((n) => n.id === someone.id);
    assert.deepEqual(after, someone);
  });
});
