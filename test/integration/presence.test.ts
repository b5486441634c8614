import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { policy } from '../../lib/policy/policy.js';
import {
  Presence,
  type PresenceOptions,
  presenceOperations,
  RoomPresence,
  type RoomViewer,
  Typing,
} from '../../lib/realtime/index.js';
import {
  closeRedisClient,
  createRedisClient,
  type RedisClient,
} from '../../lib/redis/redis-client.js';
import { startRedisServer, type TestRedisServer } from '../harness/redis-server.js';
import { registryValue } from '../harness/service-metrics.js';
import { sharedServers, uniqueName } from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

/**
 * Runs `work` and reports how the client talked to Redis meanwhile: `writes` to its socket and
 * how many of them came after a reply had arrived. One round trip = everything written before
 * the first byte of any reply (nothing waited for an answer before sending more).
 */
async function traffic<T>(client: Redis, work: () => Promise<T>) {
  const stream = (client as unknown as { stream: Socket }).stream;
  let writes = 0;
  let replies = 0;
  let writesAfterReply = 0;
  const write = stream.write;
  stream.write = function (this: Socket, ...args: Parameters<Socket['write']>) {
    writes++;
    if (replies > 0) writesAfterReply++;
    return write.apply(this, args);
  } as Socket['write'];
  const onData = () => {
    replies++;
  };
  stream.on('data', onData);
  try {
    const result = await work();
    return {
      result,
      writes,
      writesAfterReply,
      roundTrips: writes === 0 ? 0 : writesAfterReply + 1,
    };
  } finally {
    stream.write = write;
    stream.off('data', onData);
  }
}

const connectAs = (port: number, password: string) =>
  new Redis({
    port,
    username: 'socket',
    password,
    commandTimeout: 2_000,
    enableOfflineQueue: false,
  });

// Presence, room presence and typing against the shared real state Redis, connected as the
// `socket` ACL user, so every call also proves the ACL grants what the scripts need (EVAL and
// EVALSHA, TIME, sorted sets, PEXPIREAT, SET PX) under the key prefix. Each test has its own
// prefix and registry. Short TTLs are options; waits are for conditions, never fixed sleeps.
describe('presence, room presence and typing against real Redis (ACL user socket)', () => {
  const servers = sharedServers();
  let redis: Redis;
  let otherInstance: Redis;
  let admin: Redis;

  const setUp = (options: Partial<PresenceOptions> = {}, client = redis) => {
    const keyPrefix = options.keyPrefix ?? `quad:${uniqueName('presence')}:`;
    const registry = options.registry ?? new Registry();
    const presence = new Presence({ ...options, redis: client, keyPrefix, registry });
    return { presence, registry, keyPrefix };
  };

  before(async () => {
    redis = connectAs(servers.redis.port, servers.redis.passwords.socket);
    otherInstance = connectAs(servers.redis.port, servers.redis.passwords.socket);
    admin = new Redis({ port: servers.redis.port, password: servers.redis.passwords.default });
    await Promise.all(
      [redis, otherInstance, admin].map((c) => new Promise((resolve) => c.once('ready', resolve))),
    );
  });
  after(() => {
    for (const client of [redis, otherInstance, admin]) client.disconnect();
  });

  it('two tabs: closing one keeps the user online, closing both makes them offline with lastSeenAt', async () => {
    const { presence, registry } = setUp();
    const user = 'u-1';
    assert.equal(await presence.connect(user, 'gw-a:tab-1'), true, 'offline → online');
    assert.equal(await presence.connect(user, 'gw-b:tab-2'), false, 'already online');
    assert.equal(await registryValue(registry, 'presence_online_users'), 1);
    assert.deepEqual(
      await presence.disconnect(user, 'gw-a:tab-1'),
      { wentOffline: false, lastSeenAt: null },
      'the other tab is alive',
    );
    assert.deepEqual((await presence.presenceOf([user]))?.get(user), {
      online: true,
      lastSeenAt: null,
      inCall: false,
    });

    const before = Date.now();
    const last = await presence.disconnect(user, 'gw-b:tab-2');
    assert.equal(last?.wentOffline, true);
    assert.ok(last?.lastSeenAt);
    // Redis' clock, not ours; same host here, so close to ours.
    assert.ok(Math.abs(Date.parse(last.lastSeenAt) - before) < 60_000);
    assert.deepEqual((await presence.presenceOf([user]))?.get(user), {
      online: false,
      lastSeenAt: last.lastSeenAt,
      inCall: false,
    });
    assert.equal(await registryValue(registry, 'presence_online_users'), 0);
    assert.deepEqual(
      await presence.disconnect(user, 'gw-b:tab-2'),
      { wentOffline: false, lastSeenAt: null },
      'a repeated disconnect reports nothing',
    );
    assert.equal(await presence.connect(user, 'gw-a:tab-3'), true, 'online again');
    assert.deepEqual(await presence.sweepExpired(), [], 'nothing expired');
  });

  it('a connection that is never refreshed expires: offline after the TTL, reported once by concurrent sweepers', async () => {
    const options = { ttlMs: 400, keyPrefix: `quad:${uniqueName('presence')}:` };
    const a = setUp(options);
    const b = setUp({ ...options, registry: new Registry() }, otherInstance);
    const users = Array.from({ length: 40 }, (_, i) => `crashed-${i}`);
    for (const user of users) assert.equal(await a.presence.connect(user, `dead-gw:${user}`), true);
    // One of them also races an explicit disconnect against the sweepers.
    const racer = users[0] as string;

    await waitFor('every connection to pass its deadline', async () => {
      const statuses = await b.presence.presenceOf(users);
      return statuses && [...statuses.values()].every((status) => !status.online);
    });
    const [sweptByA, sweptByB, racedDisconnect] = await Promise.all([
      a.presence.sweepExpired(),
      b.presence.sweepExpired(),
      a.presence.disconnect(racer, `dead-gw:${racer}`),
    ]);
    const reported = [...sweptByA, ...sweptByB].map((expired) => expired.userId);
    if (racedDisconnect?.wentOffline) reported.push(racer);
    assert.deepEqual(reported.toSorted(), users.toSorted(), 'each user reported exactly once');
    for (const expired of [...sweptByA, ...sweptByB]) {
      assert.ok(!Number.isNaN(Date.parse(expired.lastSeenAt)));
    }
    assert.deepEqual(
      [...(await a.presence.sweepExpired()), ...(await b.presence.sweepExpired())],
      [],
      'and never again',
    );
    const after = await a.presence.presenceOf(users);
    for (const user of users) {
      assert.equal(after?.get(user)?.online, false);
      assert.ok(after?.get(user)?.lastSeenAt, `${user} has a last-seen time`);
    }
    assert.equal(await registryValue(a.registry, 'presence_online_users'), 0);
  });

  it('in a call: across instances, any of several calls, announced once each way, lapsing without a refresh', async () => {
    const options = { inCallTtlMs: 600, keyPrefix: `quad:${uniqueName('presence')}:` };
    const a = setUp(options);
    const b = setUp({ ...options, registry: new Registry() }, otherInstance);
    const inCall = async (user: string) => (await b.presence.presenceOf([user]))?.get(user)?.inCall;
    assert.equal(await inCall('caller'), false);
    assert.equal(await a.presence.enteredCall('caller', 'conversation-1'), true, 'into a call');
    assert.equal(await b.presence.enteredCall('caller', 'conversation-2'), false, 'a second one');
    assert.equal(await a.presence.enteredCall('caller', 'conversation-1'), false, 'a refresh');
    assert.equal(await inCall('caller'), true, 'read on the other instance');
    assert.equal(await a.presence.leftCall('caller', 'conversation-1'), false, 'still in one');
    assert.equal(await inCall('caller'), true);
    assert.equal(await b.presence.leftCall('caller', 'conversation-2'), true, 'out of calls');
    assert.equal(await b.presence.leftCall('caller', 'conversation-2'), false, 'said once');
    assert.equal(await inCall('caller'), false);
    // Never refreshed (its leave lost, its refresher gone): out by itself after the TTL.
    assert.equal(await a.presence.enteredCall('stale', 'conversation-3'), true);
    assert.equal(await inCall('stale'), true);
    await waitFor('the unrefreshed stay to lapse', async () => (await inCall('stale')) === false);
    assert.equal(await a.presence.enteredCall('stale', 'conversation-3'), true, 'in one again');
  });

  it('the heartbeat keeps a connection alive past the TTL while an unrefreshed one expires', async () => {
    const { presence } = setUp({ ttlMs: 3_000 });
    assert.equal(await presence.connect('kept', 'gw:kept'), true);
    assert.equal(await presence.connect('dropped', 'gw:dropped'), true);
    const swept: string[] = [];
    const cameBack: string[] = [];
    // Heartbeat ten times per TTL until the unrefreshed user has expired (which proves more
    // than one TTL passed), sweeping as the gateway's timers would.
    await waitFor(
      'the unrefreshed connection to be swept',
      async () => {
        cameBack.push(...(await presence.heartbeat([{ userId: 'kept', connectionId: 'gw:kept' }])));
        swept.push(...(await presence.sweepExpired()).map((expired) => expired.userId));
        return swept.includes('dropped');
      },
      30_000,
      300,
    );
    assert.deepEqual(swept, ['dropped']);
    assert.deepEqual(cameBack, [], 'the refreshed user never went offline');
    const statuses = await presence.presenceOf(['kept', 'dropped']);
    assert.equal(statuses?.get('kept')?.online, true);
    assert.equal(statuses?.get('dropped')?.online, false);
  });

  it('a heartbeat brings back a connection whose entry had expired and been swept', async () => {
    const { presence } = setUp({ ttlMs: 300 });
    await presence.connect('stalled', 'gw:stalled');
    await waitFor('the stalled user to be swept', async () =>
      (await presence.sweepExpired()).some((expired) => expired.userId === 'stalled'),
    );
    assert.deepEqual(
      await presence.heartbeat([{ userId: 'stalled', connectionId: 'gw:stalled' }]),
      ['stalled'],
      'reported online again',
    );
  });

  it('a disconnect during a long heartbeat is not undone by its later chunks', async () => {
    const { presence } = setUp();
    // More than one heartbeat pipeline (1 000 connections each); the closing one is last.
    const connections = Array.from({ length: 2_500 }, (_, i) => ({
      userId: `bulk-${i}`,
      connectionId: `gw:bulk-${i}`,
    }));
    const closing = connections.at(-1) as (typeof connections)[number];
    assert.equal(await presence.connect(closing.userId, closing.connectionId), true);
    const heartbeat = presence.heartbeat(connections);
    const left = await presence.disconnect(closing.userId, closing.connectionId);
    await heartbeat;
    assert.equal(left?.wentOffline, true);
    assert.equal((await presence.presenceOf([closing.userId]))?.get(closing.userId)?.online, false);
  });

  it('answers 500 users in one round trip to Redis, and refuses 501', async () => {
    const { presence } = setUp();
    const users = Array.from({ length: 450 }, (_, i) => `batch-${i}`);
    const online = users.filter((_, i) => i % 3 === 0);
    const wentOffline = users.filter((_, i) => i % 3 === 1);
    for (const user of [...online, ...wentOffline]) await presence.connect(user, `gw:${user}`);
    const lastSeen = new Map<string, string | null>();
    for (const user of wentOffline) {
      lastSeen.set(user, (await presence.disconnect(user, `gw:${user}`))?.lastSeenAt ?? null);
    }
    // Some in a call, online or not: answered in the same round trip.
    for (const [i, user] of users.entries()) {
      if (i % 5 === 0) await presence.enteredCall(user, 'conversation-1');
    }
    // 450 distinct users + 50 duplicates = 500 ids.
    const ids = [...users, ...users.slice(0, 50)];
    assert.equal(ids.length, 500);

    const { result, roundTrips, writes } = await traffic(redis, () => presence.presenceOf(ids));
    assert.equal(roundTrips, 1, `one round trip (${writes} writes)`);
    assert.equal(result?.size, 450);
    for (const [i, user] of users.entries()) {
      const inCall = i % 5 === 0;
      const expected =
        i % 3 === 0
          ? { online: true, lastSeenAt: null, inCall }
          : i % 3 === 1
            ? { online: false, lastSeenAt: lastSeen.get(user), inCall }
            : { online: false, lastSeenAt: null, inCall };
      assert.deepEqual(result?.get(user), expected, user);
    }

    // The measure can fail: two sequential commands are two round trips.
    const sequential = await traffic(redis, async () => {
      await redis.ping();
      await redis.ping();
    });
    assert.equal(sequential.roundTrips, 2);

    await assert.rejects(
      presence.presenceOf([...ids, 'one-more']),
      (error) => error instanceof RangeError,
    );
    assert.equal(policy.presence.maxBatchUsers, 500);
  });

  it('room viewers: two tabs count once; the last tab leaving stops the view; expiry is swept once', async () => {
    const keyPrefix = `quad:${uniqueName('rooms')}:`;
    const registry = new Registry();
    const rooms = new RoomPresence({ redis, keyPrefix, registry });
    const room = 'conversation-1';
    assert.equal(await rooms.joinRoom(room, 'alice', 'gw:a1'), true, 'alice starts viewing');
    assert.equal(await rooms.joinRoom(room, 'alice', 'gw:a2'), false, 'second tab');
    assert.equal(await rooms.joinRoom(room, 'bob', 'gw:b1'), true);
    assert.deepEqual((await rooms.viewers(room))?.toSorted(), ['alice', 'bob']);
    assert.equal(await rooms.connectionCount(room), 3);
    assert.equal(await rooms.activeRoomCount(), 1);
    assert.equal(await registryValue(registry, 'presence_active_rooms'), 1);

    assert.equal(await rooms.leaveRoom(room, 'alice', 'gw:a1'), false, 'a tab is left');
    assert.deepEqual((await rooms.viewers(room))?.toSorted(), ['alice', 'bob']);
    assert.equal(await rooms.leaveRoom(room, 'alice', 'gw:a2'), true, 'last tab closed');
    assert.equal(await rooms.leaveRoom(room, 'alice', 'gw:a2'), false, 'reported once');
    assert.deepEqual(await rooms.viewers(room), ['bob']);
    assert.equal(await rooms.leaveRoom(room, 'bob', 'gw:b1'), true);
    assert.deepEqual(await rooms.viewers(room), []);
    assert.equal(await rooms.activeRoomCount(), 0);

    const shortLived = new RoomPresence({ redis, keyPrefix, registry, ttlMs: 300 });
    const concurrent = new RoomPresence({
      redis: otherInstance,
      keyPrefix,
      registry: new Registry(),
      ttlMs: 300,
    });
    await shortLived.joinRoom(room, 'carol', 'dead-gw:c1');
    await shortLived.joinRoom(room, 'carol', 'dead-gw:c2');
    await shortLived.joinRoom('conversation-2', 'dave', 'dead-gw:d1');
    await waitFor(
      'the views to expire',
      async () => (await shortLived.viewers(room))?.length === 0,
    );
    const swept: RoomViewer[] = [];
    await waitFor('both rooms to be swept', async () => {
      const [mine, theirs] = await Promise.all([
        shortLived.sweepExpired(),
        concurrent.sweepExpired(),
      ]);
      swept.push(...mine, ...theirs);
      return swept.length >= 2;
    });
    assert.deepEqual(
      swept.toSorted((x, y) => x.userId.localeCompare(y.userId)),
      [
        { conversationId: room, userId: 'carol' },
        { conversationId: 'conversation-2', userId: 'dave' },
      ],
      'carol once despite two tabs, dave once',
    );
    assert.deepEqual(await shortLived.sweepExpired(), []);
    assert.equal(await shortLived.activeRoomCount(), 0);
  });

  it('typing: start, refresh, stop, and the automatic stop when the typist goes quiet', async () => {
    const keyPrefix = `quad:${uniqueName('typing')}:`;
    const typing = new Typing({ redis, keyPrefix, registry: new Registry() });
    const room = 'conversation-t';
    assert.equal(await typing.startTyping(room, 'erin'), true, 'started: broadcast');
    assert.equal(await typing.startTyping(room, 'erin'), false, 'a refresh is no change');
    assert.equal(await typing.startTyping(room, 'frank'), true);
    assert.deepEqual((await typing.typists(room))?.toSorted(), ['erin', 'frank']);
    assert.equal(await typing.stopTyping(room, 'erin'), true, 'stopped: broadcast');
    assert.equal(await typing.stopTyping(room, 'erin'), false, 'no change');
    assert.deepEqual(await typing.typists(room), ['frank']);
    assert.equal(await typing.stopTyping(room, 'frank'), true);

    const quick = new Typing({ redis, keyPrefix, registry: new Registry(), ttlMs: 300 });
    const elsewhere = new Typing({
      redis: otherInstance,
      keyPrefix,
      registry: new Registry(),
      ttlMs: 300,
    });
    assert.equal(await quick.startTyping(room, 'gina'), true);
    await waitFor('gina to go quiet', async () => (await quick.typists(room))?.length === 0);
    const [mine, theirs] = await Promise.all([quick.sweepExpired(), elsewhere.sweepExpired()]);
    assert.deepEqual([...mine, ...theirs], [{ conversationId: room, userId: 'gina' }]);
    assert.equal(await quick.stopTyping(room, 'gina'), false, 'the expiry was the stop');
    assert.deepEqual(await quick.sweepExpired(), []);
  });

  it('hostile ids cannot break keys or hash tags, and come back intact', async () => {
    const hostile = [
      '{',
      '}',
      '{user}',
      'a}b{c',
      'line\nbreak\r\n',
      'space and\ttab',
      'unicode ✓ é 漢字 🚀',
      '0:looks-like-a-member',
      '\u0000nul',
      'x'.repeat(10 * 1024),
      '{'.repeat(10 * 1024),
    ];
    const keyPrefix = `quad:${uniqueName('hostile')}:`;
    const registry = new Registry();
    const presence = new Presence({ redis, keyPrefix, registry });
    const rooms = new RoomPresence({ redis, keyPrefix, registry });
    const typing = new Typing({ redis, keyPrefix, registry });
    for (const id of hostile) {
      assert.equal(await presence.connect(id, `gw:${hostile.indexOf(id)}`), true);
      assert.equal(await rooms.joinRoom(id, id, `gw:${hostile.indexOf(id)}`), true);
      assert.equal(await typing.startTyping(id, id), true);
      assert.deepEqual(await rooms.viewers(id), [id], 'the viewer id comes back intact');
      assert.deepEqual(await typing.typists(id), [id]);
    }
    const statuses = await presence.presenceOf(hostile);
    assert.deepEqual(
      hostile.map((id) => statuses?.get(id)?.online),
      hostile.map(() => true),
    );

    // Every key: under the prefix, one hash tag naming a shard, nothing else from the ids.
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await admin.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    assert.ok(keys.length >= hostile.length * 3);
    const escaped = keyPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const shape = new RegExp(
      `^${escaped}(presence|rooms|typing):\\{(presence|rooms|typing)-\\d{2}\\}:[A-Za-z0-9._:~-]+$`,
    );
    for (const key of keys) {
      assert.match(key, shape);
      assert.ok(key.length < 150, `short key: ${key.length}`);
    }

    for (const id of hostile) {
      assert.equal((await presence.disconnect(id, `gw:${hostile.indexOf(id)}`))?.wentOffline, true);
      assert.equal(await rooms.leaveRoom(id, id, `gw:${hostile.indexOf(id)}`), true);
      assert.equal(await typing.stopTyping(id, id), true);
    }
    await assert.rejects(presence.connect('', 'gw:x'), RangeError);
    await assert.rejects(rooms.joinRoom('room', 'user', ''), RangeError);
  });
});

// A private redis-server, because this test stops it: every call resolves with its unknown
// result instead of throwing into the gateway's handlers, errors are counted, and presence
// works again once Redis is back.
describe('presence while the state Redis is down (private redis-server)', () => {
  let server: TestRedisServer;
  let redis: RedisClient;

  before(async () => {
    server = await startRedisServer('state');
    redis = createRedisClient(
      server.endpoint('socket'),
      'command',
      'presence-test',
      pino({ level: 'silent' }),
    );
    await waitFor('redis ready', async () => redis.status === 'ready');
  });
  after(async () => {
    await closeRedisClient(redis);
    await server.dispose();
  });

  it('resolves to unknown, counts errors, never throws, and recovers', async () => {
    const keyPrefix = 'quad:down:';
    const registry = new Registry();
    const presence = new Presence({ redis, keyPrefix, registry });
    const rooms = new RoomPresence({ redis, keyPrefix, registry });
    const typing = new Typing({ redis, keyPrefix, registry });
    assert.equal(await presence.connect('u', 'gw:1'), true);
    assert.match(await registry.metrics(), /presence_online_users 1/);

    await server.stop();
    await waitFor('the client to notice', async () => redis.status !== 'ready');

    assert.equal(await presence.connect('v', 'gw:2'), null);
    assert.deepEqual(await presence.heartbeat([{ userId: 'u', connectionId: 'gw:1' }]), []);
    assert.equal(await presence.disconnect('u', 'gw:1'), null);
    assert.deepEqual(await presence.sweepExpired(), []);
    assert.equal(await presence.presenceOf(['u', 'v']), null);
    assert.equal(await presence.onlineCount(), null);
    assert.equal(await presence.enteredCall('u', 'c'), null);
    assert.equal(await presence.leftCall('u', 'c'), null);
    assert.equal(await rooms.joinRoom('c', 'u', 'gw:1'), null);
    assert.equal(await rooms.leaveRoom('c', 'u', 'gw:1'), null);
    assert.deepEqual(
      await rooms.heartbeat([{ conversationId: 'c', userId: 'u', connectionId: 'gw:1' }]),
      [],
    );
    assert.equal(await rooms.viewers('c'), null);
    assert.deepEqual(await rooms.sweepExpired(), []);
    assert.equal(await typing.startTyping('c', 'u'), null);
    assert.equal(await typing.stopTyping('c', 'u'), null);
    assert.equal(await typing.typists('c'), null);
    assert.deepEqual(await typing.sweepExpired(), []);
    // A scrape while Redis is down still answers (the gauge keeps its last value).
    assert.match(await registry.metrics(), /presence_online_users 1/);

    for (const operation of presenceOperations) {
      const errors = await registryValue(registry, 'presence_errors_total', { operation });
      assert.ok((errors ?? 0) >= 1, `${operation} errors counted (${errors})`);
    }

    await server.restart();
    await waitFor('the client to reconnect', async () => redis.status === 'ready');
    // Redis restarted empty (no persistence here): the heartbeat puts the connection back.
    assert.deepEqual(await presence.heartbeat([{ userId: 'u', connectionId: 'gw:1' }]), ['u']);
    assert.equal((await presence.presenceOf(['u']))?.get('u')?.online, true);
  });
});
