/**
 * `npm run bench:worker`: throughput of the worker's delivery job (in-app notifications of a new
 * message: services/worker/delivery-jobs.ts) at concurrency 1, 4 and 16, beside BullMQ's own
 * rate for a job that does nothing, on the same Redis, in the same run. A script that prints a
 * table, not a test: the figures go to docs/performance.md. Target: the delivery job at least
 * 50 % of the no-op rate.
 *
 * It starts its own PostgreSQL and state redis-server (the test harness's: Quad's ACL users; the
 * queues connect as `worker`, as the worker does), seeds CONVERSATIONS group conversations of
 * MEMBERS people each with MESSAGES_PER_CONVERSATION messages, and then, per contender and
 * concurrency: enqueues one job per message (addBulk), starts a BullMQ Worker, and times from
 * its start to the last completion. Every delivery job does the real work: its members from
 * PostgreSQL, one presence lookup in Redis (nobody is online, so everyone is notified), one
 * INSERT ... ON CONFLICT of the notifications. Notifications are emptied between runs, so each
 * run does the same work. A third contender runs one `SELECT 1` per job: the floor of any job
 * that touches PostgreSQL. Runs are interleaved (no-op, SELECT 1, delivery, ...) so a noisy
 * neighbour on a shared machine hurts both alike; the table shows the median of ROUNDS.
 */
import { type Job, Queue, Worker } from 'bullmq';
import pg from 'pg';
import { Registry } from 'prom-client';
import { MessageDelivery } from '../lib/notifications/index.js';
import { createLogger } from '../lib/observability/logger.js';
import { runMigrations } from '../lib/postgres/migrations.js';
import { Presence } from '../lib/realtime/index.js';
import { queuePrefix } from '../lib/redis/queue-prefix.js';
import {
  closeRedisClient,
  createRedisClient,
  type RedisClient,
} from '../lib/redis/redis-client.js';
import { createDeliveryProcessor, type DeliveryJobData } from '../services/worker/delivery-jobs.js';
import { startPostgresServer, type TestPostgresServer } from '../test/harness/postgres-server.js';
import { startRedisServer, type TestRedisServer } from '../test/harness/redis-server.js';
import { median } from './bench-support.js';

const CONVERSATIONS = 40;
const MEMBERS = 8;
const MESSAGES_PER_CONVERSATION = 50;
const CONCURRENCIES = [1, 4, 16] as const;
const ROUNDS = 3;
const PREFIX = queuePrefix('quad:');

const logger = createLogger('bench', 'warn');

interface Seeded {
  jobs: DeliveryJobData[];
}

async function seed(postgres: pg.Pool): Promise<Seeded> {
  const users = await postgres.query<{ id: string }>(
    `INSERT INTO users (username, email, display_name, role, password_hash)
     SELECT 'bench' || n, 'bench' || n || '@school.example', 'Bench ' || n, 'student', 'unused'
     FROM generate_series(1, $1) AS n
     RETURNING id`,
    [CONVERSATIONS * MEMBERS],
  );
  const ids = users.rows.map((row) => row.id);
  const jobs: DeliveryJobData[] = [];
  let outboxId = 0;
  for (let index = 0; index < CONVERSATIONS; index++) {
    const members = ids.slice(index * MEMBERS, (index + 1) * MEMBERS);
    const sender = members[0] as string;
    const conversation = await postgres.query<{ id: string }>(
      `INSERT INTO conversations (kind, title, created_by, last_message_seq)
       VALUES ('group', $1, $2, $3) RETURNING id`,
      [`bench ${index}`, sender, MESSAGES_PER_CONVERSATION],
    );
    const conversationId = conversation.rows[0]?.id as string;
    await postgres.query(
      `INSERT INTO conversation_members (conversation_id, user_id, role)
       SELECT $1, user_id, CASE WHEN user_id = $2 THEN 'owner' ELSE 'member' END
       FROM unnest($3::uuid[]) AS user_id`,
      [conversationId, sender, members],
    );
    const messages = await postgres.query<{ id: string; seq: string }>(
      `INSERT INTO messages (conversation_id, seq, sender_id, body, idempotency_key)
       SELECT $1, n, $2, 'message ' || n, $4 || n
       FROM generate_series(1, $3) AS n
       RETURNING id, seq`,
      [conversationId, sender, MESSAGES_PER_CONVERSATION, `bench-${index}-`],
    );
    for (const message of messages.rows) {
      outboxId += 1;
      jobs.push({
        outboxId: String(outboxId),
        message: { id: message.id, conversationId, seq: Number(message.seq), senderId: sender },
      });
    }
  }
  // Jobs in send order across conversations: a burst in many conversations at once.
  jobs.sort((a, b) => a.message.seq - b.message.seq);
  return { jobs };
}

type Processor = (job: Job) => Promise<unknown>;

/** Enqueues every job, then runs them with `concurrency`; jobs per second. */
async function run(
  connection: RedisClient,
  queueName: string,
  jobs: readonly DeliveryJobData[],
  processor: Processor,
  concurrency: number,
): Promise<number> {
  const queue = new Queue(queueName, { connection, prefix: PREFIX });
  await queue.obliterate({ force: true });
  for (let start = 0; start < jobs.length; start += 1_000) {
    await queue.addBulk(
      jobs.slice(start, start + 1_000).map((data) => ({
        name: 'message.created',
        data,
        opts: { removeOnComplete: true, removeOnFail: true },
      })),
    );
  }
  let completed = 0;
  let failed = 0;
  const started = performance.now();
  let finished = 0;
  const done = new Promise<void>((resolve) => {
    const worker = new Worker(queueName, processor, {
      connection,
      prefix: PREFIX,
      concurrency,
      autorun: true,
    });
    const check = () => {
      if (completed + failed === jobs.length) {
        finished = performance.now();
        void worker.close().then(resolve);
      }
    };
    worker.on('completed', () => {
      completed += 1;
      check();
    });
    worker.on('failed', () => {
      failed += 1;
      check();
    });
  });
  await done;
  await queue.obliterate({ force: true });
  await queue.close();
  if (failed > 0) throw new Error(`${failed} jobs failed on ${queueName}`);
  return (jobs.length / (finished - started)) * 1_000;
}

const servers: Array<TestPostgresServer | TestRedisServer> = [];
let exitCode = 0;
try {
  console.log('worker benchmark: starting PostgreSQL and a state redis-server');
  const [postgresServer, redisServer] = await Promise.all([
    startPostgresServer(),
    startRedisServer('state'),
  ]);
  servers.push(postgresServer, redisServer);
  const admin = new pg.Client({ connectionString: postgresServer.url('postgres') });
  await admin.connect();
  await admin.query('CREATE DATABASE quad_bench');
  await admin.end();
  const databaseUrl = postgresServer.url('quad_bench');
  await runMigrations(databaseUrl, logger);
  // The worker's own pool size (policy.postgres.poolMax).
  const postgres = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  // The servers are stopped at the end while idle clients may remain.
  postgres.on('error', () => {});
  const { jobs } = await seed(postgres);

  const connection = createRedisClient(redisServer.endpoint('worker'), 'queue', 'bench', logger);
  const command = createRedisClient(redisServer.endpoint('worker'), 'command', 'bench', logger);
  const presence = new Presence({ redis: command, keyPrefix: 'quad:', registry: new Registry() });
  // A processor per run. The delivery's is a new MessageDelivery each time, as a worker that
  // has not delivered these conversations yet would be: each run starts from truncated
  // progress, which the delivery's memory of its own progress must not outlive.
  const contenders: Record<'no-op' | 'select-1' | 'delivery', () => Processor> = {
    'no-op': () => async () => undefined,
    // The floor of any job that touches PostgreSQL at all: one round trip, no work.
    'select-1': () => async () => postgres.query('SELECT 1'),
    delivery: () => createDeliveryProcessor(new MessageDelivery({ postgres, presence }), logger),
  };

  console.log(
    `${jobs.length} jobs per run: ${CONVERSATIONS} conversations x ${MESSAGES_PER_CONVERSATION} messages, ${MEMBERS - 1} offline recipients each; median of ${ROUNDS} rounds`,
  );
  const rates = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const concurrency of CONCURRENCIES) {
      for (const [name, processorFor] of Object.entries(contenders)) {
        await postgres.query('TRUNCATE notifications, delivery_progress');
        const rate = await run(connection, `bench-${name}`, jobs, processorFor(), concurrency);
        const key = `${name}@${concurrency}`;
        rates.set(key, [...(rates.get(key) ?? []), rate]);
      }
    }
  }
  const notified = await postgres.query<{ n: number; messages: number }>(
    'SELECT count(*)::int AS n, sum(unread_count)::int AS messages FROM notifications',
  );
  const expected = { n: CONVERSATIONS * (MEMBERS - 1), messages: jobs.length * (MEMBERS - 1) };
  console.log(
    `last delivery run: ${notified.rows[0]?.n} notifications counting ${notified.rows[0]?.messages} messages (expected ${expected.n} and ${expected.messages})`,
  );
  if (notified.rows[0]?.n !== expected.n || notified.rows[0]?.messages !== expected.messages) {
    // A delivery that did not deliver is fast: its rate must not be reported as a result.
    console.error('*** the delivery jobs did not deliver what they should: figures invalid ***');
    exitCode = 1;
  }
  console.log(
    '\n| concurrency | BullMQ no-op jobs/s | one SELECT 1 jobs/s | delivery jobs/s | delivery / no-op |',
  );
  console.log('|---|---|---|---|---|');
  for (const concurrency of CONCURRENCIES) {
    const rate = (name: string) => median(rates.get(`${name}@${concurrency}`) ?? [0]);
    const [noop, select, real] = [rate('no-op'), rate('select-1'), rate('delivery')];
    console.log(
      `| ${concurrency} | ${noop.toFixed(0)} | ${select.toFixed(0)} | ${real.toFixed(0)} | ${((real / noop) * 100).toFixed(0)} % |`,
    );
  }
  await postgres.end();
  await Promise.all([closeRedisClient(connection), closeRedisClient(command)]);
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  await Promise.allSettled(servers.map((server) => server.dispose()));
}
process.exit(exitCode);
