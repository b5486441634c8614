import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Socket } from 'socket.io-client';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { defaultRateLimitPolicies, rateLimitKey } from '../../lib/rate-limit/index.js';
import { socketChannelKey } from '../../lib/realtime/index.js';
import { callApi, createAccount, loginAs } from '../harness/api-client.js';
import { startRedisCluster, type TestRedisCluster } from '../harness/redis-cluster.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import { connectSocket, followConversations, request } from '../harness/socket-client.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedServers,
} from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// A master of the state Redis Cluster is SIGKILLed while one member keeps sending: its replica
// must be promoted, every service must find it on its own (ioredis' slot refresh, MOVED), no
// committed message may be lost, every online member must hold every message once caught up,
// and presence and rate limits must read right again. The figures (degraded seconds, failed requests) are
// printed for docs/scaling.md.

interface Person {
  id: string;
  token: string;
}

/** One send every this many ms over HTTP, before, during and after the failover. */
const SEND_INTERVAL_MS = 50;
const SENDS_BEFORE_KILL = 40;
const SENDS_AFTER_KILL = 200;
const PRESENCE_TTL_MS = 3_000;

interface SendRecord {
  startedAt: number;
  finishedAt: number;
  status: number;
  /** The problem code of a refused send. */
  code?: string;
  id?: string;
}

describe('failover: a state Redis master SIGKILLed under a steady send workload', () => {
  let cluster: TestRedisCluster;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let postgres: pg.Pool;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  const gateways: ServiceProcess[] = [];
  const sockets: Socket[] = [];
  const people = {} as Record<'sender' | 'amy' | 'bob' | 'cat', Person>;
  let groupId = '';

  before(async () => {
    const servers = sharedServers();
    // A cluster of its own (the shared one must survive for the other files), with the
    // shared users' passwords so serviceEnvironment's credentials fit it.
    cluster = await startRedisCluster('state', {
      masters: 3,
      replicasPerMaster: 1,
      sharedPasswords: servers.redis.passwords,
    });
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    postgres = new pg.Pool({ connectionString: database.url, max: 2 });
    const environment = (service: 'api' | 'socket' | 'worker') => ({
      ...serviceEnvironment(service, database.url),
      REDIS_CLUSTER_NODES: cluster.seedNodes,
      PRESENCE_TTL_MS: String(PRESENCE_TTL_MS),
      RATE_LIMITS: JSON.stringify({
        'login-ip': { limit: 1_000, windowMs: 60_000 },
        'message-send': { limit: 10_000, windowMs: 10_000 },
        'api-user': { limit: 100_000, windowMs: 60_000 },
      }),
    });
    // Two at a time: five Node processes compiling at once on two cores can outlast the
    // harness' start-up wait.
    [api, worker] = await Promise.all([
      startService('api', environment('api')),
      startService('worker', environment('worker')),
    ]);
    for (let i = 0; i < 3; i++) gateways.push(await startService('socket', environment('socket')));
    for (const name of ['sender', 'amy', 'bob', 'cat'] as const) {
      const account = await createAccount(database.url, name);
      people[name] = { id: account.id, token: (await loginAs(api.baseUrl, name)).token };
    }
    const group = await callApi(api.baseUrl, 'POST', '/conversations', {
      token: people.sender.token,
      body: {
        kind: 'group',
        title: 'Exam board',
        memberIds: [people.amy.id, people.bob.id, people.cat.id],
      },
    });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    groupId = String(group.body.id);
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    await Promise.all([api, worker, ...gateways].map((service) => service?.stop('SIGTERM')));
    await postgres?.end();
    await database?.drop();
    await cluster?.dispose();
  });

  it('promotes the replica, loses nothing, and every member catches up', async () => {
    const members = [people.amy, people.bob, people.cat];
    const followers = await Promise.all(
      members.map(async (person, index) => {
        const socket = await connectSocket(
          (gateways[index] as ServiceProcess).baseUrl,
          person.token,
          {
            reconnection: true,
          },
        );
        sockets.push(socket);
        const joined = await request(socket, 'conversation:join', { conversationIds: [groupId] });
        assert.equal(joined.ok, true, JSON.stringify(joined));
        return followConversations(socket, [groupId]);
      }),
    );

    // The master of this conversation's broadcast channel: killing it cuts the live path.
    const channel = `${socketChannelKey('quad:')}#/#conversation:${groupId}#`;
    const victim = await cluster.masterFor(channel);
    const replica = await cluster.replicaOf(victim);
    const sends: SendRecord[] = [];
    const send = async (i: number) => {
      const startedAt = Date.now();
      const reply = await callApi(api.baseUrl, 'POST', `/conversations/${groupId}/messages`, {
        token: people.sender.token,
        body: { body: `steady ${i}`, idempotencyKey: crypto.randomUUID() },
      }).catch(() => ({ status: 0, body: {} as Record<string, unknown> }));
      sends.push({
        startedAt,
        finishedAt: Date.now(),
        status: reply.status,
        ...(reply.status === 201
          ? { id: String(reply.body.id) }
          : { code: String(reply.body.code ?? 'no answer') }),
      });
    };

    let killedAt = 0;
    let promoted: Promise<number> = Promise.resolve(0);
    const workload = (async () => {
      const pending: Array<Promise<void>> = [];
      for (let i = 0; i < SENDS_BEFORE_KILL + SENDS_AFTER_KILL; i++) {
        if (i === SENDS_BEFORE_KILL) {
          killedAt = Date.now();
          await victim.stop('SIGKILL');
          promoted = waitFor(
            `replica :${replica.port} promoted`,
            async () =>
              ((await cluster.adminOf(replica).call('ROLE')) as unknown[])[0] === 'master',
            60_000,
            20,
          ).then(() => Date.now());
        }
        pending.push(send(i));
        await new Promise((resolve) => setTimeout(resolve, SEND_INTERVAL_MS));
      }
      await Promise.all(pending);
    })();
    await workload;

    const promotedAt = await promoted;
    await cluster.waitUntilHealthy(60_000);

    const accepted = sends.filter((record) => record.status === 201);
    const failed = sends.filter((record) => record.status !== 201);
    const acceptedIds = accepted.map((record) => record.id as string);

    // Nothing committed is lost: PostgreSQL holds exactly the accepted sends.
    const stored = await postgres.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1 AND body LIKE 'steady %'`,
      [groupId],
    );
    assert.equal(stored.rows[0]?.n, accepted.length);

    // Every member holds every committed message: live, or through the catch-up the gateways
    // ask for once their sharded subscriptions are rebuilt (quad:resync), or through the
    // outbox relay's republish of what could not be published during the failover.
    for (const [index, follower] of followers.entries()) {
      await waitFor(
        `member ${index} holds all ${acceptedIds.length} messages (failures: ${follower.failures.join('; ')})`,
        async () => follower.holds(acceptedIds).length === acceptedIds.length,
        60_000,
        100,
      );
    }

    // Presence converges: all three members read as online again from any gateway.
    const watcher = sockets[0] as Socket;
    await waitFor(
      'presence of the three members converges',
      async () => {
        const answer = await request(watcher, 'presence:query', {
          userIds: members.map((person) => person.id),
        });
        if (!answer.ok) return false;
        const presence = answer.presence as Record<string, { online: boolean }>;
        return members.every((person) => presence[person.id]?.online === true);
      },
      PRESENCE_TTL_MS * 4,
      100,
    );

    // Rate limits converge: on the promoted master, a global limit is exact again. A login
    // subject (the username, known or not) whose key lives on the promoted replica gets exactly
    // login-account's limit of attempts, then 429: no stale refusal from the dead master's
    // connection (the policy fails closed), and no budget handed out twice.
    const loginLimit = defaultRateLimitPolicies['login-account'].limit;
    let guessed = '';
    for (let i = 0; i < 200 && guessed === ''; i++) {
      const name = `guess${i}`;
      const key = rateLimitKey('quad:', 'login-account', 'sliding-window-log', name);
      if ((await cluster.masterFor(key)).port === replica.port) guessed = name;
    }
    assert.ok(guessed, 'no login subject on the promoted replica in 200 names');
    const attempts: number[] = [];
    for (let i = 0; i <= loginLimit; i++) {
      const reply = await callApi(api.baseUrl, 'POST', '/auth/login', {
        body: { username: guessed, password: 'not-the-password' },
      });
      attempts.push(reply.status);
    }
    assert.deepEqual(attempts, [...Array(loginLimit).fill(401), 429]);

    // Degraded: from the kill to the end of the last send that failed or took over a second.
    const degradedUntil = sends
      .filter((record) => record.status !== 201 || record.finishedAt - record.startedAt > 1_000)
      .reduce((latest, record) => Math.max(latest, record.finishedAt), killedAt);
    const slowest = sends.reduce(
      (worst, record) => Math.max(worst, record.finishedAt - record.startedAt),
      0,
    );
    console.log(
      `failover figures: killed master :${victim.port} (owner of the conversation's broadcast channel); ` +
        `${sends.length} sends, ${failed.length} failed (${[...new Set(failed.map((record) => `${record.status} ${record.code}`))].join(', ') || 'none'}); ` +
        `degraded ${((degradedUntil - killedAt) / 1000).toFixed(1)} s (failed or over 1 s); ` +
        `slowest send ${slowest} ms; replica promoted ${((promotedAt - killedAt) / 1000).toFixed(1)} s after the kill; ` +
        `resync notices per member ${followers.map((follower) => follower.resyncs).join('/')}`,
    );
  });
});
