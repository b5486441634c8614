import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'socket.io-client';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { callApi, createAccount, loginAs } from '../harness/api-client.js';
import type { Person } from '../harness/private-api.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import {
  connectSocket,
  disconnection,
  record,
  request,
  waitForEntry,
} from '../harness/socket-client.js';
import { createTestDatabase, serviceEnvironment } from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// Presence, room presence and typing across gateway instances sharing one Redis: many tabs on many
// instances, a SIGKILLed instance, live changes reaching the members of the user's conversations,
// and the batch query over both transports.

interface PresenceEvent {
  userId: string;
  online: boolean;
  lastSeenAt: string | null;
}

/** Short, so a killed instance's users go offline within seconds (sweeps run at a third). */
const PRESENCE_TTL_MS = 3_000;

describe('socket presence, rooms and typing across instances', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: ServiceProcess;
  let gatewayA: ServiceProcess;
  let gatewayB: ServiceProcess;
  const sockets: Socket[] = [];
  const people = {} as Record<'ann' | 'ben' | 'cid' | 'dot', Person>;
  let groupId: string;

  const open = async (gateway: ServiceProcess, person: Person) => {
    const socket = await connectSocket(gateway.baseUrl, person.token);
    sockets.push(socket);
    return socket;
  };
  const socketEnvironment = () => ({
    ...serviceEnvironment('socket', database.url),
    PRESENCE_TTL_MS: String(PRESENCE_TTL_MS),
  });
  /** Ben watches the group from instance B: every presence and typing change lands here. */
  const watcher = async () => {
    const socket = await open(gatewayB, people.ben);
    const joined = await request(socket, 'conversation:join', { conversationIds: [groupId] });
    assert.equal(joined.ok, true);
    return socket;
  };
  const presenceOf = async (socket: Socket, userIds: string[]) => {
    const answer = await request(socket, 'presence:query', { userIds });
    assert.equal(answer.ok, true, JSON.stringify(answer));
    return answer.presence as Record<string, { online: boolean; lastSeenAt: string | null }>;
  };

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    [api, gatewayA, gatewayB] = await Promise.all([
      startService('api', {
        ...serviceEnvironment('api', database.url),
        RATE_LIMITS: JSON.stringify({ 'login-ip': { limit: 1_000, windowMs: 60_000 } }),
      }),
      startService('socket', socketEnvironment()),
      startService('socket', socketEnvironment()),
    ]);
    for (const name of ['ann', 'ben', 'cid', 'dot'] as const) {
      const account = await createAccount(database.url, name);
      people[name] = { id: account.id, token: (await loginAs(api.baseUrl, name)).token };
    }
    const group = await callApi(api.baseUrl, 'POST', '/conversations', {
      token: people.ann.token,
      body: {
        kind: 'group',
        title: 'Chemistry lab',
        memberIds: [people.ben.id, people.cid.id, people.dot.id],
      },
    });
    groupId = String(group.body.id);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all([api, gatewayA, gatewayB].map((service) => service?.stop('SIGTERM')));
    await database?.drop();
  });

  it('keeps a user with tabs on two instances online until both close', async () => {
    const ben = await watcher();
    const changes = record<PresenceEvent>(ben, 'presence:changed');
    const tabOnA = await open(gatewayA, people.ann);
    await waitForEntry(changes, (e) => e.userId === people.ann.id && e.online, 'ann online');
    const tabOnB = await open(gatewayB, people.ann);
    assert.equal((await presenceOf(ben, [people.ann.id]))[people.ann.id]?.online, true);

    tabOnA.close();
    await disconnection(tabOnA);
    // Still a live tab on B: online, and no offline change was broadcast.
    assert.equal((await presenceOf(ben, [people.ann.id]))[people.ann.id]?.online, true);
    assert.equal(changes.filter((e) => e.userId === people.ann.id && !e.online).length, 0);

    tabOnB.close();
    const offline = await waitForEntry(
      changes,
      (e) => e.userId === people.ann.id && !e.online,
      'ann offline once both tabs closed',
    );
    assert.ok(offline.lastSeenAt && !Number.isNaN(Date.parse(offline.lastSeenAt)));
    const after = (await presenceOf(ben, [people.ann.id]))[people.ann.id];
    assert.equal(after?.online, false);
    assert.equal(after?.lastSeenAt, offline.lastSeenAt);
  });

  it('takes the users of a SIGKILLed instance offline within the presence TTL', async () => {
    const doomed = await startService('socket', socketEnvironment());
    try {
      const ben = await watcher();
      const changes = record<PresenceEvent>(ben, 'presence:changed');
      await open(doomed, people.cid);
      await waitForEntry(changes, (e) => e.userId === people.cid.id && e.online, 'cid online');

      doomed.child.kill('SIGKILL');
      await doomed.exited;
      // Nobody disconnected cid: the surviving instances' sweeps notice the expired deadline.
      await waitForEntry(
        changes,
        (e) => e.userId === people.cid.id && !e.online,
        'cid offline after the kill',
        PRESENCE_TTL_MS * 3,
      );
      assert.equal((await presenceOf(ben, [people.cid.id]))[people.cid.id]?.online, false);
      assert.equal(
        changes.filter((e) => e.userId === people.cid.id && !e.online).length,
        1,
        'reported once, though two instances sweep',
      );
    } finally {
      if (doomed.child.exitCode === null && doomed.child.signalCode === null) {
        await doomed.stop('SIGKILL');
      }
    }
  });

  it('answers the presence of 500 users at once, over the socket and over HTTP', async () => {
    const ben = await watcher();
    const dot = await open(gatewayA, people.dot);
    const strangers = Array.from({ length: 498 }, () => crypto.randomUUID());
    const userIds = [people.dot.id, people.ben.id, ...strangers];
    const overSocket = await presenceOf(dot, userIds);
    assert.equal(Object.keys(overSocket).length, 500);
    assert.equal(overSocket[people.dot.id]?.online, true);
    assert.equal(overSocket[people.ben.id]?.online, true);
    assert.ok(strangers.every((id) => overSocket[id]?.online === false));

    const overHttp = await callApi(api.baseUrl, 'POST', '/presence/query', {
      token: people.ben.token,
      body: { userIds },
    });
    assert.equal(overHttp.status, 200, JSON.stringify(overHttp.body));
    assert.deepEqual(overHttp.body.presence, overSocket);

    const tooMany = await request(ben, 'presence:query', {
      userIds: [...userIds, crypto.randomUUID()],
    });
    assert.equal(tooMany.error?.code, 'invalid_payload');
    const tooManyHttp = await callApi(api.baseUrl, 'POST', '/presence/query', {
      token: people.ben.token,
      body: { userIds: [...userIds, crypto.randomUUID()] },
    });
    assert.equal(tooManyHttp.status, 400);
    const anonymous = await callApi(api.baseUrl, 'POST', '/presence/query', { body: { userIds } });
    assert.equal(anonymous.status, 401);
  });

  it('tracks who is viewing a conversation, one entry per user across tabs', async () => {
    const ben = await watcher();
    const viewers = record<{ conversationId: string; userIds: string[] }>(ben, 'room:viewers');
    const tab1 = await open(gatewayA, people.ann);
    const tab2 = await open(gatewayB, people.ann);
    const first = await request(tab1, 'conversation:view', { conversationId: groupId });
    assert.deepEqual(first.viewers, [people.ann.id]);
    await waitForEntry(viewers, (e) => e.userIds.includes(people.ann.id), 'ann viewing');
    const second = await request(tab2, 'conversation:view', { conversationId: groupId });
    assert.deepEqual(second.viewers, [people.ann.id], 'two tabs, one viewer');

    await request(tab1, 'conversation:view', { conversationId: null });
    const stillViewing = await request(ben, 'conversation:view', { conversationId: groupId });
    assert.deepEqual(
      [...(stillViewing.viewers as string[])].sort(),
      [people.ann.id, people.ben.id].sort(),
    );

    tab2.close();
    await waitForEntry(
      viewers,
      (e) => e.userIds.length === 1 && e.userIds[0] === people.ben.id,
      'ann no longer viewing once her last viewing tab closed',
    );

    const stranger = await request(await open(gatewayA, people.dot), 'conversation:view', {
      conversationId: crypto.randomUUID(),
    });
    assert.equal(stranger.error?.code, 'not_found');
  });

  it('shows typing across instances, and stops it on request, on disconnect and when quiet', async () => {
    const ben = await watcher();
    const typing = record<{ userId: string; typing: boolean }>(ben, 'typing');
    const ann = await open(gatewayA, people.ann);
    const started = (n: number) =>
      typing.filter((e) => e.userId === people.ann.id && e.typing).length >= n;
    const stopped = (n: number) =>
      typing.filter((e) => e.userId === people.ann.id && !e.typing).length >= n;

    assert.equal((await request(ann, 'typing:start', { conversationId: groupId })).ok, true);
    await waitFor('typing shown on the other instance', async () => started(1));
    assert.equal((await request(ann, 'typing:start', { conversationId: groupId })).ok, true);
    assert.equal((await request(ann, 'typing:stop', { conversationId: groupId })).ok, true);
    await waitFor('explicit stop', async () => stopped(1));
    assert.equal(typing.filter((e) => e.typing).length, 1, 'a refresh is not broadcast again');

    await request(ann, 'typing:start', { conversationId: groupId });
    await waitFor('typing again', async () => started(2));
    ann.close();
    await waitFor('stopped when the typist disconnected', async () => stopped(2));

    const quiet = await open(gatewayA, people.ann);
    await request(quiet, 'typing:start', { conversationId: groupId });
    await waitFor('typing a third time', async () => started(3));
    // No refresh and no stop: the typing TTL ends it, and a sweep tells the room.
    await waitFor('stopped when the typist went quiet', async () => stopped(3), 15_000);

    const outsider = await request(quiet, 'typing:start', { conversationId: crypto.randomUUID() });
    assert.equal(outsider.error?.code, 'not_found');
  });

  it('limits typing signals per user across instances (socket-typing), with the retry time', async () => {
    const onA = await open(gatewayA, people.dot);
    const onB = await open(gatewayB, people.dot);
    const answers = [];
    // The policy's burst is 10: the 11th signal in a row is refused, whichever instance.
    for (let i = 0; i < 11; i++) {
      answers.push(
        await request(i % 2 === 0 ? onA : onB, 'typing:start', { conversationId: groupId }),
      );
    }
    assert.deepEqual(
      answers.slice(0, 10).map((answer) => answer.ok),
      Array(10).fill(true),
    );
    const refused = answers[10];
    assert.equal(refused?.error?.code, 'rate_limited', JSON.stringify(refused));
    assert.ok((refused?.error?.retryAfterMs ?? 0) > 0);
  });
});
