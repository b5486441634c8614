import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Registry } from 'prom-client';
import { MessageDelivery } from '../../lib/notifications/index.js';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { Presence } from '../../lib/realtime/index.js';
import { createTestDatabase, sharedServers, uniqueName } from '../harness/test-environment.js';

// The delivery job coalesces: the first job of a burst delivers every message of its
// conversation after the delivery progress, the jobs of the messages it covered find them done,
// and whatever the order of the jobs, their re-runs and their overlap, each offline member's
// notification counts each message from others once. Real PostgreSQL and the shared state
// Redis (presence, where nobody is online, as the worker's ACL user).

const MEMBERS = 30;

describe('delivery in batches', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  let redis: Redis;
  let delivery: MessageDelivery;
  let userIds: string[] = [];

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    sql = new pg.Pool({ connectionString: database.url, max: 6 });
    const servers = sharedServers();
    redis = new Redis({
      port: servers.redis.port,
      username: 'worker',
      password: servers.redis.passwords.worker,
      commandTimeout: 2_000,
    });
    const presence = new Presence({
      redis,
      keyPrefix: `quad:${uniqueName('delivery')}:`,
      registry: new Registry(),
    });
    delivery = new MessageDelivery({ postgres: sql, presence });
    const users = await sql.query<{ id: string }>(
      `INSERT INTO users (username, email, display_name, role, password_hash)
       SELECT 'member' || n, 'member' || n || '@school.example', 'Member ' || n, 'student', 'unused'
       FROM generate_series(1, $1::int) AS n ORDER BY n
       RETURNING id`,
      [MEMBERS],
    );
    userIds = users.rows.map((row) => row.id);
  });
  after(async () => {
    redis?.disconnect();
    await sql?.end();
    await database?.drop();
  });

  /** A group of every user; returns its id. */
  const newConversation = async () => {
    const created = await sql.query<{ id: string }>(
      `INSERT INTO conversations (kind, title, created_by) VALUES ('group', $2, $1) RETURNING id`,
      [userIds[0], uniqueName('room')],
    );
    const id = created.rows[0]?.id ?? '';
    await sql.query(
      `INSERT INTO conversation_members (conversation_id, user_id, role)
       SELECT $1, user_id, 'member' FROM unnest($2::uuid[]) AS user_id`,
      [id, userIds],
    );
    return id;
  };
  /** Commits `count` messages as a send does (the next seq under the conversation lock), each
   *  from the sender `senderOf(n)`; returns what a delivery job carries for each. */
  const sendMessages = async (
    conversationId: string,
    count: number,
    senderOf: (n: number) => string,
  ) => {
    const sent = [];
    for (let n = 0; n < count; n++) {
      const senderId = senderOf(n);
      const inserted = await sql.query<{ id: string; seq: string }>(
        `WITH next AS (
           UPDATE conversations SET last_message_seq = last_message_seq + 1 WHERE id = $1
           RETURNING last_message_seq)
         INSERT INTO messages (conversation_id, seq, sender_id, body, idempotency_key)
         SELECT $1, last_message_seq, $2, 'hello', $3 FROM next
         RETURNING id, seq`,
        [conversationId, senderId, uniqueName('key')],
      );
      const row = inserted.rows[0];
      if (!row) throw new Error('message not inserted');
      sent.push({ id: row.id, conversationId, seq: Number(row.seq), senderId });
    }
    return sent;
  };
  /** What each member's open notification should count: messages from others after their
   *  receipt (nobody is online, and no notification has been read). */
  const expectedCounts = async (conversationId: string) => {
    const found = await sql.query<{ user_id: string; n: number }>(
      `SELECT m.user_id, count(msg.id)::int AS n
       FROM conversation_members m
       JOIN messages msg ON msg.conversation_id = m.conversation_id
         AND msg.seq > m.last_read_seq AND msg.sender_id <> m.user_id
       WHERE m.conversation_id = $1 GROUP BY m.user_id`,
      [conversationId],
    );
    return new Map(found.rows.map((row) => [row.user_id, row.n]));
  };
  const notificationCounts = async (conversationId: string) => {
    const found = await sql.query<{ user_id: string; unread_count: number }>(
      `SELECT user_id, unread_count FROM notifications WHERE conversation_id = $1`,
      [conversationId],
    );
    assert.equal(
      new Set(found.rows.map((row) => row.user_id)).size,
      found.rows.length,
      'one notification per member',
    );
    return new Map(found.rows.map((row) => [row.user_id, row.unread_count]));
  };
  /** Runs the jobs `concurrency` at a time, in the order given. */
  const runJobs = async (
    jobs: ReadonlyArray<{ id: string; conversationId: string; seq: number; senderId: string }>,
    concurrency: number,
  ) => {
    const queue = [...jobs];
    const results: Array<{ notified: string[]; online: number }> = [];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let job = queue.shift(); job; job = queue.shift()) {
          results.push(await delivery.deliver(job));
        }
      }),
    );
    return results;
  };

  it('a burst of 50 messages into a room of 30 costs one job its work; the others find it done', async () => {
    const room = await newConversation();
    const burst = await sendMessages(room, 50, (n) => userIds[n % 3] ?? '');
    const results = await runJobs(burst, 4);
    const working = results.filter((result) => result.notified.length > 0);
    assert.equal(working.length, 1, `jobs that delivered: ${working.length} of ${results.length}`);
    assert.deepEqual(await notificationCounts(room), await expectedCounts(room));
  });

  it('the jobs of messages a worker delivered itself answer from memory; another worker asks PostgreSQL', async () => {
    const room = await newConversation();
    const burst = await sendMessages(room, 20, (n) => userIds[n % 4] ?? '');
    // Pool checkouts are PostgreSQL round trips: every query takes one.
    const counted = (pool: pg.Pool) => {
      let checkouts = 0;
      pool.on('acquire', () => {
        checkouts++;
      });
      return () => checkouts;
    };
    const poolA = new pg.Pool({ connectionString: database.url, max: 2 });
    const poolB = new pg.Pool({ connectionString: database.url, max: 2 });
    try {
      const presence = new Presence({
        redis,
        keyPrefix: `quad:${uniqueName('delivery')}:`,
        registry: new Registry(),
      });
      const workerA = new MessageDelivery({ postgres: poolA, presence });
      const workerB = new MessageDelivery({ postgres: poolB, presence });
      const checkoutsA = counted(poolA);
      const checkoutsB = counted(poolB);
      const last = burst.at(-1);
      assert.ok(last);
      assert.ok((await workerA.deliver(last)).notified.length > 0, 'the last job delivers all');
      const afterDelivery = checkoutsA();
      for (const job of burst.slice(0, -1)) {
        assert.deepEqual(await workerA.deliver(job), { notified: [], online: 0 });
      }
      assert.equal(checkoutsA() - afterDelivery, 0, 'covered jobs asked PostgreSQL');
      // Another process has not seen that progress: it reads the row, and adds nothing.
      for (const job of burst.slice(0, 5)) {
        assert.deepEqual(await workerB.deliver(job), { notified: [], online: 0 });
      }
      assert.ok(checkoutsB() >= 1, 'the other worker read the progress row');
      assert.deepEqual(await notificationCounts(room), await expectedCounts(room));
    } finally {
      await poolA.end();
      await poolB.end();
    }
  });

  it('jobs in any order, overlapping, re-run and racing new messages: each message counted once', async () => {
    const room = await newConversation();
    // Two members have read part of the history already.
    const early = await sendMessages(room, 10, (n) => userIds[n % 5] ?? '');
    await sql.query(
      `UPDATE conversation_members SET last_read_seq = 6
       WHERE conversation_id = $1 AND user_id = ANY($2::uuid[])`,
      [room, userIds.slice(10, 12)],
    );
    const jobs = [...early];
    // Newer jobs first, then messages keep arriving while jobs run.
    const delivering = runJobs([...early].reverse(), 3);
    for (let wave = 0; wave < 4; wave++) {
      const more = await sendMessages(room, 7, (n) => userIds[(n + wave) % 7] ?? '');
      jobs.push(...more);
      await runJobs(
        more.filter((_, index) => index % 2 === 1),
        2,
      );
    }
    await delivering;
    // Every job again, shuffled (a relay handing rows over twice, a retried job).
    const shuffled = jobs
      .map((job, index) => ({ job, key: (index * 7919) % jobs.length }))
      .sort((a, b) => a.key - b.key)
      .map(({ job }) => job);
    await runJobs(shuffled, 4);
    await runJobs(shuffled, 1);
    assert.deepEqual(await notificationCounts(room), await expectedCounts(room));
  });
});
