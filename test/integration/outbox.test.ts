import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Registry } from 'prom-client';
import type { Socket } from 'socket.io-client';
import { createLogger } from '../../lib/observability/logger.js';
import type { OutboxConsumer, OutboxEvent } from '../../lib/outbox/outbox.types.js';
import { OutboxRelay } from '../../lib/outbox/outbox-relay.js';
import { pruneOutbox } from '../../lib/outbox/outbox-retention.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { serverEventSchemas } from '../../lib/realtime/events.js';
import { queuePrefix } from '../../lib/redis/queue-prefix.js';
import { DELIVERY_QUEUE } from '../../services/worker/delivery-jobs.js';
import {
  callApi,
  createAccount,
  createConversation,
  loginAs,
  type Reply,
  sendMessage,
} from '../harness/api-client.js';
import { asMessageTruth, conversationListTruth, historyTruth } from '../harness/messaging-truth.js';
import type { Person } from '../harness/private-api.js';
import {
  generousRateLimits,
  type PrivateServers,
  startPrivateServers,
} from '../harness/private-servers.js';
import type { TestRedisServer } from '../harness/redis-server.js';
import { scrapeMetric } from '../harness/service-metrics.js';
import {
  collectOutput,
  type QuadService,
  type ServiceProcess,
  spawnEntrypoint,
  startService,
} from '../harness/service-process.js';
import { connectSocket, record, request } from '../harness/socket-client.js';
import { createTestDatabase } from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// The transactional outbox against real processes: an api, a socket gateway and a worker on a Redis
// pair of their own (this file stops the state Redis and SIGKILLs the worker; the shared servers
// are never touched).
//  - Redis down while messages are sent over HTTP: they commit, and once Redis is back the
//    worker's relay delivers every one of them to every online member and fixes the caches.
//  - The worker SIGKILLed while delivery jobs run: after a restart the interrupted jobs run
//    again, and each message is counted exactly once in the notifications.
//  - A malformed row written by hand: the worker dead-letters it, keeps delivering the rows
//    after it, and `quad jobs dead|retry|drop --queue outbox` lists, rewrites and drops it.

const names = ['ann', 'ben', 'cat', 'dan', 'eve'] as const;
type Name = (typeof names)[number];

function assertStatus(reply: Reply, status: number, context: string) {
  assert.equal(reply.status, status, `${context}: ${JSON.stringify(reply.body)}`);
}

describe('transactional outbox: Redis down, worker killed (private servers)', () => {
  let servers: PrivateServers;
  let database: PrivateServers['database'];
  let sql: pg.Pool;
  let state: TestRedisServer;
  let api: ServiceProcess;
  let gateway: ServiceProcess;
  let worker: ServiceProcess;
  const sockets: Socket[] = [];
  const people = {} as Record<Name, Person>;
  const redisClients: Redis[] = [];

  const environment = (service: QuadService, extra: Record<string, string> = {}) =>
    servers.environment(service, { RATE_LIMITS: generousRateLimits, ...extra });
  const call = (who: Name, method: string, path: string, body?: unknown) =>
    callApi(api.baseUrl, method, path, { token: people[who].token, body });
  const send = (who: Name, conversationId: string, text: string) =>
    sendMessage(api.baseUrl, people[who].token, conversationId, text);
  const createGroup = (title: string, members: readonly Name[]) =>
    createConversation(api.baseUrl, people.ann.token, {
      kind: 'group',
      title,
      memberIds: members.map((name) => people[name].id),
    });
  const unpublished = async () =>
    (
      await sql.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL',
      )
    ).rows[0]?.n;

  before(async () => {
    servers = await startPrivateServers();
    ({ database, state } = servers);
    sql = new pg.Pool({ connectionString: database.url });
    [api, gateway, worker] = await Promise.all([
      startService('api', environment('api')),
      startService('socket', environment('socket')),
      startService('worker', environment('worker')),
    ]);
    for (const name of names) {
      const account = await createAccount(database.url, name);
      people[name] = { id: account.id, token: (await loginAs(api.baseUrl, name)).token };
    }
  });

  after(async () => {
    for (const socket of sockets) socket.close();
    for (const client of redisClients) client.disconnect();
    await Promise.all([api, gateway, worker].map((service) => service?.stop('SIGTERM')));
    await sql?.end();
    await servers?.dispose();
  });

  it('messages sent while the state Redis is down reach every online member once it is back', async () => {
    const groupId = await createGroup('Geography 8C', ['ben', 'cat']);
    const members = ['ann', 'ben', 'cat'] as const;
    await send('ben', groupId, 'before the outage');
    const received = new Map<Name, Array<{ message: { id: string } }>>();
    for (const name of members) {
      const socket = await connectSocket(gateway.baseUrl, people[name].token);
      sockets.push(socket);
      const joined = await request(socket, 'conversation:join', { conversationIds: [groupId] });
      assert.deepEqual(joined.joined, [groupId]);
      received.set(name, record(socket, 'message:new'));
    }
    // Warm caches: the first page of history and the unread counts come from Redis.
    for (const name of members) {
      assertStatus(await call(name, 'GET', `/conversations/${groupId}/messages`), 200, 'history');
      assertStatus(await call(name, 'GET', '/me/unread'), 200, 'unread');
    }
    assert.equal(await unpublished(), 0, 'the fast path published everything so far');

    await state.stop();
    const sent: string[] = [];
    for (let index = 1; index <= 5; index++) {
      sent.push(await send(members[index % 3] as Name, groupId, `during the outage ${index}`));
    }
    // The writes committed; their live events could not be published.
    assert.equal(await unpublished(), sent.length);
    for (const name of members) {
      const ids = new Set(received.get(name)?.map((event) => event.message.id));
      assert.ok(!sent.some((id) => ids.has(id)), `${name} got an event while Redis was down`);
    }

    await state.restart();
    for (const name of members) {
      const events = received.get(name) ?? [];
      await waitFor(
        `${name} received every message sent during the outage`,
        async () => sent.every((id) => events.some((event) => event.message.id === id)),
        30_000,
      );
      // What the relay re-published is the live event's shape exactly.
      for (const event of events) serverEventSchemas['message:new'].parse(event);
      // Clients keep messages by id: the set they hold is exactly what was sent.
      assert.deepEqual(new Set(events.map((event) => event.message.id)), new Set(sent), name);
    }
    await waitFor('every outbox row published', async () => (await unpublished()) === 0);
    assert.ok(
      (await scrapeMetric(worker.baseUrl, 'outbox_rows_relayed_total', { consumer: 'realtime' })) >=
        sent.length,
    );

    // Caches agree with PostgreSQL: first pages (from the recent-messages set) and counts.
    for (const name of members) {
      const history = await call(name, 'GET', `/conversations/${groupId}/messages`);
      assert.deepEqual(
        asMessageTruth(history.body.messages as Array<Record<string, unknown>>),
        await historyTruth(sql, groupId, people[name].id, 50),
        `${name}'s first page`,
      );
      const unread = await call(name, 'GET', '/me/unread');
      const truth = await conversationListTruth(sql, people[name].id);
      assert.deepEqual(
        unread.body.conversations,
        truth.map(({ id, unreadCount }) => ({ conversationId: id, unreadCount })),
        `${name}'s unread counts`,
      );
    }
  });

  it('a worker SIGKILLed during delivery jobs runs them again on restart, each effect once', async () => {
    // Two members who never connect, so every message must end up in their notification.
    const groupId = await createGroup('Latin club', ['dan', 'eve']);
    const queueClient = new Redis(state.url('worker'), { maxRetriesPerRequest: null });
    redisClients.push(queueClient);
    const queue = new Queue(DELIVERY_QUEUE, {
      connection: queueClient,
      prefix: queuePrefix('quad:'),
    });
    const counts = async () => {
      const found = await queue.getJobCounts('active', 'waiting', 'completed', 'failed');
      return {
        active: found.active ?? 0,
        waiting: found.waiting ?? 0,
        completed: found.completed ?? 0,
        failed: found.failed ?? 0,
      };
    };
    const before = await counts();

    // The worker is stopped while the messages are sent, so that it meets them as one large
    // backlog, handled two jobs at a time (DELIVERY_CONCURRENCY): it is then killed with
    // plenty of jobs waiting and one running.
    await worker.stop('SIGTERM');
    const total = 400;
    const sent: string[] = [];
    for (let start = 0; start < total; start += 20) {
      const chunk = Array.from({ length: Math.min(20, total - start) }, (_, index) =>
        send('ann', groupId, `lesson ${start + index + 1}`),
      );
      sent.push(...(await Promise.all(chunk)));
    }
    worker = await startService('worker', environment('worker', { DELIVERY_CONCURRENCY: '2' }));
    await waitFor('the first delivery jobs done', async () => {
      const done = await scrapeMetric(worker.baseUrl, 'worker_jobs_total', {
        queue: 'delivery',
        result: 'completed',
      });
      return done >= 10;
    });
    await worker.stop('SIGKILL');
    const atKill = await counts();
    const doneAtKill = atKill.completed - before.completed;
    assert.ok(atKill.active >= 1, `a job was running at the kill: ${JSON.stringify(atKill)}`);
    assert.ok(doneAtKill < total, `jobs were left at the kill: ${JSON.stringify(atKill)}`);

    worker = await startService('worker', environment('worker'));
    // The killed worker's running jobs come back once their lock expires (stalled-job
    // recovery); the relay may hand rows over again, which must not make second jobs.
    await waitFor(
      'every delivery job completed',
      async () => {
        const now = await counts();
        assert.equal(now.failed, before.failed, 'no job failed');
        return now.completed - before.completed === total && now.active === 0 && now.waiting === 0;
      },
      90_000,
    );
    const jobs = await queue.getJobs(['completed'], 0, -1);
    const ours = jobs.filter((job) => sent.includes(String(job.data.message?.id)));
    assert.equal(ours.length, total, 'one job per message');
    assert.ok(
      ours.some((job) => (job.attemptsStarted ?? 0) > 1 || (job.stalledCounter ?? 0) > 0),
      'an interrupted job ran again',
    );

    // Exactly once: one notification per offline member, counting every message once.
    const notifications = await sql.query<{ user_id: string; unread_count: number }>(
      'SELECT user_id, unread_count FROM notifications WHERE conversation_id = $1 ORDER BY user_id',
      [groupId],
    );
    assert.deepEqual(
      notifications.rows,
      [people.dan.id, people.eve.id]
        .sort()
        .map((userId) => ({ user_id: userId, unread_count: total })),
    );
    await queue.close();
  });

  it('the worker dead-letters a malformed row, delivers the rows after it, and quad jobs manages it', async () => {
    const quad = async (...args: string[]) => {
      const child = spawnEntrypoint(
        'services/cli/main.ts',
        { NODE_ENV: 'test', LOG_LEVEL: 'warn', ...environment('worker') },
        ['jobs', ...args, '--queue', 'outbox'],
      );
      const { output, exited } = collectOutput(child);
      return { status: await exited, output: output() };
    };
    const deadLettered = () =>
      scrapeMetric(worker.baseUrl, 'outbox_rows_dead_lettered_total', { type: 'message.created' });
    const deadBefore = await deadLettered();

    const malformed = await insertMalformed(sql);
    // Two members who never connect: the delivery consumer, behind the malformed row in the
    // relay's order, must still reach them.
    const groupId = await createGroup('Chess club', ['dan', 'eve']);
    const messageId = await send('ann', groupId, 'Tournament on Friday');
    await waitFor('the message after the malformed row delivered to dan', async () => {
      const found = await sql.query<{ unread_count: number }>(
        'SELECT unread_count FROM notifications WHERE conversation_id = $1 AND user_id = $2',
        [groupId, people.dan.id],
      );
      return found.rows[0]?.unread_count === 1;
    });
    await waitFor(
      'the malformed row counted',
      async () => (await deadLettered()) === deadBefore + 1,
    );
    assert.ok(
      worker.logs.some(
        (line) =>
          line.msg === 'malformed outbox row dead-lettered; no consumer receives it' &&
          line.outboxId === malformed,
      ),
      'the worker logged the dead letter',
    );
    assert.equal((await fetch(`${worker.baseUrl}/healthz`)).status, 200, 'the worker still runs');

    const listed = await quad('dead');
    assert.equal(listed.status, 0, listed.output);
    const line = listed.output.split('\n').find((l) => l.startsWith(`${malformed}\t`));
    assert.ok(line, listed.output);
    assert.match(line, /\tmessage\.created\tconversation=.*payload\.message/);

    const refused = await quad('retry', malformed);
    assert.equal(refused.status, 1, refused.output);
    assert.match(refused.output, /still fails its schema/);

    // Repaired by hand (here: given the sent message's own payload), it is written again and
    // the relay's consumers take it like any new row.
    await sql.query(
      `UPDATE outbox AS dead SET conversation_id = sent.conversation_id, payload = sent.payload
       FROM outbox AS sent
       WHERE dead.id = $1 AND sent.type = 'message.created'
         AND sent.payload -> 'message' ->> 'id' = $2`,
      [malformed, messageId],
    );
    const retried = await quad('retry', malformed);
    assert.equal(retried.status, 0, retried.output);
    const rewritten = /written again as row (\d+)/.exec(retried.output)?.[1];
    assert.ok(rewritten, retried.output);
    await waitFor('the rewritten row replayed by the realtime consumer', async () => {
      const found = await sql.query<{ published: boolean }>(
        'SELECT published_at IS NOT NULL AS published FROM outbox WHERE id = $1',
        [rewritten],
      );
      return found.rows[0]?.published === true;
    });
    assert.equal((await quad('drop', malformed)).status, 1, 'the retried row is gone');

    const another = await insertMalformed(sql);
    await waitFor(
      'the second malformed row counted',
      async () => (await deadLettered()) === deadBefore + 2,
    );
    const dropped = await quad('drop', another);
    assert.equal(dropped.status, 0, dropped.output);
    const left = await sql.query('SELECT 1 FROM outbox WHERE id = $1', [another]);
    assert.equal(left.rowCount, 0);
  });
});

/** Inserts a well-formed message.created row directly, as a writer would; returns its id. */
async function insertMessageCreated(db: pg.Pool | pg.PoolClient): Promise<string> {
  const conversationId = randomUUID();
  const senderId = randomUUID();
  const message = {
    id: randomUUID(),
    conversationId,
    seq: 1,
    senderId,
    body: 'Homework is on page 12',
    createdAt: new Date().toISOString(),
    editedAt: null,
    deletedAt: null,
  };
  const inserted = await db.query<{ id: string }>(
    `INSERT INTO outbox (type, conversation_id, payload)
     VALUES ('message.created', $1, $2) RETURNING id::text`,
    [conversationId, JSON.stringify({ message, actorId: senderId })],
  );
  return inserted.rows[0]?.id ?? '';
}

/** Inserts a message.created row whose payload no writer could produce (the message has no
 *  sender, its seq is text): what a hand-written row or a buggy old version leaves behind. */
async function insertMalformed(db: pg.Pool | pg.PoolClient): Promise<string> {
  const inserted = await db.query<{ id: string }>(
    `INSERT INTO outbox (type, conversation_id, payload)
     VALUES ('message.created', gen_random_uuid(), '{"message": {"id": 42, "seq": "one"}}')
     RETURNING id::text`,
  );
  return inserted.rows[0]?.id ?? '';
}

/** A relay polling every 20 ms over a fresh migrated database of its own, already started;
 *  `stop` ends the relay, its pool and the database. */
async function startRelayOnOwnDatabase(registry: Registry, consumers: OutboxConsumer[]) {
  const database = await createTestDatabase();
  await runMigrations(database.url, createLogger('test', 'silent'));
  const pool = new pg.Pool({ connectionString: database.url });
  const relay = new OutboxRelay({
    postgres: pool,
    consumers,
    logger: createLogger('test', 'silent'),
    registry,
    pollIntervalMs: 20,
  });
  relay.start();
  return {
    pool,
    relay,
    async stop() {
      await relay.stop();
      await pool.end();
      await database.drop();
    },
  };
}
type RunningRelay = Awaited<ReturnType<typeof startRelayOnOwnDatabase>>;

// The gap problem (migrations/0007_outbox_notifications.sql), against the relay itself: a row
// whose transaction commits after a later row's must still be handed over, and first.
describe('outbox relay: a row committed late is never skipped', () => {
  let running: RunningRelay | undefined;
  after(async () => running?.stop());

  it('hands rows over in commit order, waiting for the open transaction', async () => {
    const registry = new Registry();
    const handed: string[] = [];
    running = await startRelayOnOwnDatabase(registry, [
      {
        name: 'recorder',
        async handle(events) {
          handed.push(...events.map((event) => event.id));
        },
      },
    ]);
    const { pool } = running;
    const insert = (db: pg.Pool | pg.PoolClient) => insertMessageCreated(db);
    const reads = async () => {
      const metric = await registry.getSingleMetric('outbox_relay_reads_total')?.get();
      return metric?.values.reduce((sum, value) => sum + value.value, 0) ?? 0;
    };

    // `early` takes the lower id and commits last.
    const early = await pool.connect();
    await early.query('BEGIN');
    const first = await insert(early);
    const second = await insert(pool);
    assert.ok(Number(first) < Number(second));
    // A rolled-back row leaves a hole in the ids and blocks nothing.
    const aborted = await pool.connect();
    await aborted.query('BEGIN');
    await insert(aborted);
    await aborted.query('ROLLBACK');
    aborted.release();

    const readsBefore = await reads();
    await waitFor('the relay read several times', async () => (await reads()) >= readsBefore + 3);
    assert.deepEqual(handed, [], 'nothing past a transaction still open');

    await early.query('COMMIT');
    early.release();
    const third = await insert(pool);
    await waitFor('all three handed over', async () => handed.length >= 3);
    assert.deepEqual(handed, [first, second, third]);
    // The position is written once the hand-over has returned: wait for it, not race it.
    await waitFor('the position past the third row', async () => {
      const position = await pool.query<{ last_id: string }>(
        "SELECT last_id::text FROM outbox_consumers WHERE name = 'recorder'",
      );
      return position.rows[0]?.last_id === third;
    });

    // Retention: only rows published and handed to every consumer go.
    await pool.query('UPDATE outbox SET published_at = now() WHERE id <= $1', [second]);
    const fourth = await insert(pool);
    assert.equal(await pruneOutbox(pool, { olderThanMs: 0, batchSize: 100 }), 2);
    const kept = await pool.query<{ id: string }>('SELECT id::text FROM outbox ORDER BY id');
    assert.deepEqual(
      kept.rows.map((row) => row.id),
      [third, fourth],
    );
  });
});

// A row no consumer can read (hand-written, or left by a buggy version) against the relay
// itself: it is dead-lettered once, handed to no consumer, and the rows after it still flow.
describe('outbox relay: a malformed row is dead-lettered, the rows after it delivered', () => {
  let running: RunningRelay | undefined;
  after(async () => running?.stop());

  it('marks, logs and counts the malformed row and hands every consumer the others', async () => {
    const registry = new Registry();
    const handed = { first: [] as OutboxEvent[], second: [] as OutboxEvent[] };
    const recorder = (name: keyof typeof handed): OutboxConsumer => ({
      name,
      async handle(events) {
        handed[name].push(...events);
      },
    });
    running = await startRelayOnOwnDatabase(registry, [recorder('first'), recorder('second')]);
    const { pool, relay } = running;

    const before = await insertMessageCreated(pool);
    const malformed = await insertMalformed(pool);
    const after = await insertMessageCreated(pool);
    await waitFor('both consumers passed every row', async () => {
      const positions = await pool.query<{ last_id: string }>(
        'SELECT last_id::text FROM outbox_consumers ORDER BY name',
      );
      return positions.rows.length === 2 && positions.rows.every((row) => row.last_id === after);
    });

    for (const name of ['first', 'second'] as const) {
      assert.deepEqual(
        handed[name].map((event) => event.id),
        [before, after],
        `${name} got the well-formed rows only`,
      );
      // What consumers receive is typed and whole: no cast needed to read the message.
      assert.ok(handed[name].every((event) => event.type === 'message.created'));
    }
    const dead = await pool.query<{ id: string; reason: string | null }>(
      `SELECT id::text, dead_letter_reason AS reason FROM outbox
       WHERE dead_lettered_at IS NOT NULL`,
    );
    assert.deepEqual(
      dead.rows.map((row) => row.id),
      [malformed],
    );
    assert.match(dead.rows[0]?.reason ?? '', /payload\.message\.seq/);
    const counted = await registry.getSingleMetric('outbox_rows_dead_lettered_total')?.get();
    assert.deepEqual(
      counted?.values.map(({ labels, value }) => ({ labels, value })),
      [{ labels: { type: 'message.created' }, value: 1 }],
      'counted once, though two consumers met it',
    );
    // A dead row is not waiting for the fast path: once the others are published, the lag
    // says nothing is behind.
    await pool.query('UPDATE outbox SET published_at = now() WHERE dead_lettered_at IS NULL');
    const lags = await relay.lagSeconds();
    assert.equal(lags.get('fast-path'), 0);
    assert.ok(relay.healthy, 'the relay still runs');

    // And it keeps running: a row written now is handed over too.
    const later = await insertMessageCreated(pool);
    await waitFor('the next row handed over', async () =>
      handed.second.some((event) => event.id === later),
    );
  });
});
