import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Socket } from 'socket.io-client';
import {
  callApi,
  createAccount,
  createConversation,
  loginAs,
  sendMessage,
} from '../harness/api-client.js';
import type { Person } from '../harness/private-api.js';
import {
  generousRateLimits,
  type PrivateServers,
  startPrivateServers,
} from '../harness/private-servers.js';
import type { TestRedisServer } from '../harness/redis-server.js';
import { type QuadService, type ServiceProcess, startService } from '../harness/service-process.js';
import { connectSocket, followConversations, record, request } from '../harness/socket-client.js';
import { startTcpProxy, type TcpProxy } from '../harness/tcp-proxy.js';
import { waitFor } from '../harness/wait-for.js';

// Two socket gateways, an api and a worker as real processes on a Redis pair of their own
// (this file kills the state Redis). Gateway A reaches the state Redis only through a TCP relay
// the test can hold closed, so its subscription comes back when the test says, after gateway
// B's: the moment where a publish reaches one gateway and not the other. Pub/sub keeps nothing,
// so what gateway A missed must reach its clients another way: once its subscription is back
// it tells them to catch up (`quad:resync`, services/socket/subscription-recovery.ts), and the
// followers below do what docs/api.md asks of a client (catch up with `sync`, keep messages
// once by id).

interface MessageEvent {
  message: { id: string; conversationId: string };
}

const names = ['ann', 'ben', 'alice', 'bob', 'carol'] as const;
type Name = (typeof names)[number];

describe('socket gateways across a state Redis outage (private servers)', () => {
  let servers: PrivateServers;
  let sql: pg.Pool;
  let state: TestRedisServer;
  /** Gateway A's only way to the state Redis. */
  let linkA: TcpProxy;
  let stateAdmin: Redis;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let gatewayA: ServiceProcess;
  let gatewayB: ServiceProcess;
  const sockets: Socket[] = [];
  const people = {} as Record<Name, Person>;

  const send = (who: Person, conversationId: string, body: string) =>
    sendMessage(api.baseUrl, who.token, conversationId, body);
  const createGroup = (owner: Person, members: readonly Person[], title: string) =>
    createConversation(api.baseUrl, owner.token, {
      kind: 'group',
      title,
      memberIds: members.map((member) => member.id),
    });

  /** Outbox rows of these messages whose live event has not reached Redis yet. */
  const unpublished = async (messageIds: readonly string[]) =>
    (
      await sql.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox
          WHERE payload->'message'->>'id' = ANY($1::text[]) AND published_at IS NULL`,
        [messageIds],
      )
    ).rows[0]?.n;

  /** Closes, from the Redis side, the one subscriber connection that comes through `link`. */
  const dropSubscriberBehind = async (link: TcpProxy) => {
    const ports = new Set(link.upstreamPorts());
    const clients = String(await stateAdmin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    const ids = clients.split('\n').flatMap((line) => {
      const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
      const port = /(?:^| )addr=\S*:(\d+)/.exec(line)?.[1];
      return id && port && ports.has(Number(port)) ? [id] : [];
    });
    assert.equal(ids.length, 1, clients);
    await stateAdmin.call('CLIENT', 'KILL', 'ID', String(ids[0]));
  };

  /** A connected client of `who` on `gateway`, following one conversation. */
  const follow = async (gateway: ServiceProcess, who: Name, conversationId: string) => {
    const socket = await connectSocket(gateway.baseUrl, people[who].token);
    sockets.push(socket);
    const joined = await request(socket, 'conversation:join', {
      conversationIds: [conversationId],
    });
    assert.deepEqual(joined.joined, [conversationId]);
    return followConversations(socket, [conversationId]);
  };
  type Follower = Awaited<ReturnType<typeof follow>>;

  const waitUntilHolding = (who: string, follower: Follower, ids: readonly string[]) =>
    waitFor(
      `${who} holding all ${ids.length} messages`,
      async () => follower.holds(ids).length === ids.length,
      30_000,
    ).catch((error: unknown) => {
      const failures = follower.failures.join('; ') || 'none';
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`${reason} (catch-up failures: ${failures})`);
    });

  before(async () => {
    servers = await startPrivateServers();
    state = servers.state;
    const { database } = servers;
    sql = new pg.Pool({ connectionString: database.url });
    linkA = await startTcpProxy(state.port);
    stateAdmin = new Redis({ port: state.port, password: state.passwords.default });
    // This file stops the state Redis on purpose; the connection comes back with it.
    stateAdmin.on('error', () => {});
    // The default key prefix: the Redis ACL grants the services the pub/sub channels under it.
    const environment = (service: QuadService, statePort = state.port) =>
      servers.environment(service, {
        REDIS_PORT: String(statePort),
        RATE_LIMITS: generousRateLimits,
      });
    // One after the other: four processes compiling at once on a busy machine can take longer
    // than a start-up is given.
    api = await startService('api', environment('api'));
    worker = await startService('worker', environment('worker'));
    gatewayA = await startService('socket', environment('socket', linkA.port));
    gatewayB = await startService('socket', environment('socket'));
    for (const name of names) {
      const account = await createAccount(database.url, name);
      people[name] = { id: account.id, token: (await loginAs(api.baseUrl, name)).token };
    }
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all([api, worker, gatewayA, gatewayB].map((service) => service?.stop('SIGTERM')));
    stateAdmin?.disconnect();
    await linkA?.close();
    await sql?.end();
    await servers?.dispose();
  });

  // A member removed while the state Redis is down: the api commits the removal, but its
  // "leave the room" broadcast to the gateways cannot be published. When Redis is back, the
  // gateway re-checks its rooms (services/socket/room-revalidation.ts), so the removed member
  // receives none of the room's later events.
  it('drops a member removed during the outage from the room once Redis is back', async () => {
    const { ann, ben } = people;
    const groupId = await createGroup(ann, [ben], 'Lab partners');
    const annSocket = await connectSocket(gatewayB.baseUrl, ann.token, { reconnection: true });
    const benSocket = await connectSocket(gatewayB.baseUrl, ben.token, { reconnection: true });
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
      gatewayB.logs.some((line) => line.msg === 'sockets left rooms they were removed from'),
    );
    // The api's and the gateway's Redis connections come back on their own schedules (jittered
    // backoff), and a publish before both are back is dropped (catch-up is the remedy). So
    // send until Ann, in the room on the same instance, gets one: Ben would have it by then.
    const sent: string[] = [];
    await waitFor('a message reaching ann after the outage', async () => {
      sent.push(await send(ann, groupId, 'only for the remaining members'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      return annSees.some((e) => sent.includes(e.message.id));
    });
    assert.deepEqual(
      benSees.filter((e) => sent.includes(e.message.id)),
      [],
      'nothing sent after the removal reaches ben',
    );
  });

  it('members on the gateway whose subscription returns last still get every message sent during the outage', async () => {
    const { alice, bob, carol } = people;
    const groupId = await createGroup(alice, [bob, carol], 'Study group');
    const followers = {
      alice: await follow(gatewayA, 'alice', groupId),
      bob: await follow(gatewayB, 'bob', groupId),
      carol: await follow(gatewayB, 'carol', groupId),
    };

    // Gateway A stays cut off from Redis until everything is republished and B has it.
    linkA.hold();
    await state.stop('SIGKILL');
    const sent: string[] = [];
    for (const [index, who] of [alice, bob, carol, alice, bob].entries()) {
      sent.push(await send(who, groupId, `during the outage ${index + 1}`));
    }
    assert.equal(await unpublished(sent), sent.length, 'committed, live events not published');
    await state.restart();

    // The worker's relay publishes them once Redis is back: Bob and Carol get them (live, or
    // through a catch-up if gateway B's subscription was not back in time either).
    await waitFor(
      'the relay publishing every row',
      async () => (await unpublished(sent)) === 0,
      30_000,
    );
    await waitUntilHolding('bob', followers.bob, sent);
    await waitUntilHolding('carol', followers.carol, sent);
    // Published while gateway A was not subscribed: Alice, still connected, has none of them.
    assert.deepEqual(followers.alice.holds(sent), []);

    linkA.release();
    await waitUntilHolding('alice', followers.alice, sent);
    assert.ok(followers.alice.resyncs >= 1, 'gateway A told alice to catch up');
    for (const [name, follower] of Object.entries(followers)) {
      assert.deepEqual(new Set(follower.messages.keys()), new Set(sent), name);
      assert.deepEqual(follower.failures, [], name);
    }
  });

  it("a subscriber connection dropped alone, with Redis up, makes that gateway's clients catch up", async () => {
    const { alice, bob, carol } = people;
    const groupId = await createGroup(alice, [bob, carol], 'Reading group');
    const followers = {
      alice: await follow(gatewayA, 'alice', groupId),
      bob: await follow(gatewayB, 'bob', groupId),
      carol: await follow(gatewayB, 'carol', groupId),
    };

    // Gateway A keeps its other Redis connections; its subscriber is dropped (as Redis does to
    // a subscriber over its output-buffer limit) and cannot reconnect until released.
    linkA.hold({ keepOpen: true });
    await dropSubscriberBehind(linkA);
    const sent: string[] = [];
    for (const [index, who] of [bob, carol, bob].entries()) {
      sent.push(await send(who, groupId, `while gateway A reconnects ${index + 1}`));
    }
    // Redis was up: the api published each one before answering, and gateway B delivered it.
    assert.equal(await unpublished(sent), 0);
    await waitUntilHolding('bob', followers.bob, sent);
    await waitUntilHolding('carol', followers.carol, sent);
    assert.deepEqual(followers.alice.holds(sent), []);

    linkA.release();
    await waitUntilHolding('alice', followers.alice, sent);
    for (const [name, follower] of Object.entries(followers)) {
      assert.deepEqual(new Set(follower.messages.keys()), new Set(sent), name);
      assert.deepEqual(follower.failures, [], name);
    }
    // Gateway B's subscription never broke: it told nobody to catch up.
    assert.equal(followers.bob.resyncs + followers.carol.resyncs, 0);
  });
});
