import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Registry } from 'prom-client';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { Presence } from '../../lib/realtime/index.js';
import { queuePrefix } from '../../lib/redis/queue-prefix.js';
import { MAINTENANCE_QUEUE } from '../../services/worker/maintenance-jobs.js';
import { callApi, createAccount, loginAs } from '../harness/api-client.js';
import { startRedisServer, type TestRedisServer } from '../harness/redis-server.js';
import { scrapeMetric } from '../harness/service-metrics.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import { createTestDatabase, serviceEnvironment, uniqueName } from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// The worker's repeatable upkeep, each job run on demand by adding it to the maintenance queue by
// name (as the schedules do, and as an operator may), against a real worker and api. Private Redis
// servers: the warm-up test flushes the cache Redis, which must never happen to the shared servers
// other files use in parallel.

interface Message {
  id: string;
  body: string | null;
  deletedAt: string | null;
}

describe('maintenance: retention, ended sessions, realtime leftovers, cache warm-up', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let state: TestRedisServer;
  let cache: TestRedisServer;
  let api: ServiceProcess;
  let worker: ServiceProcess;
  let postgres: pg.Pool;
  const clients: Redis[] = [];
  let queue: Queue;
  let events: QueueEvents;
  const people = {
    ann: { id: '', username: '', token: '' },
    ben: { id: '', username: '', token: '' },
  };
  let conversationId = '';
  const messageIds: string[] = [];

  const connect = (server: TestRedisServer, user: 'worker' | 'default') => {
    const client = new Redis({
      port: server.port,
      host: '127.0.0.1',
      username: user,
      password: server.passwords[user],
      maxRetriesPerRequest: null,
    });
    clients.push(client);
    return client;
  };

  /** Runs one maintenance job now and returns its result. */
  const run = async <T>(name: string): Promise<T> => {
    const job = await queue.add(name, {});
    return (await job.waitUntilFinished(events, 30_000)) as T;
  };

  const history = async (who: { token: string }) => {
    const reply = await callApi(api.baseUrl, 'GET', `/conversations/${conversationId}/messages`, {
      token: who.token,
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body.messages as Message[];
  };
  const unreadOf = async (who: { token: string }) => {
    const reply = await callApi(api.baseUrl, 'GET', '/me/unread', { token: who.token });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const list = reply.body.conversations as Array<{ conversationId: string; unreadCount: number }>;
    return list.find((entry) => entry.conversationId === conversationId)?.unreadCount;
  };
  const search = async (who: { token: string }, q: string) => {
    const reply = await callApi(api.baseUrl, 'GET', `/search?q=${encodeURIComponent(q)}`, {
      token: who.token,
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return (reply.body.results as Array<{ message: { id: string } }>).map((r) => r.message.id);
  };

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    state = await startRedisServer('state');
    cache = await startRedisServer('cache', state.passwords);
    const ports = { state: state.port, cache: cache.port };
    for (const name of ['ann', 'ben'] as const) {
      const account = await createAccount(database.url, `${name}_${uniqueName('m')}`);
      people[name].id = account.id;
      people[name].username = account.username;
    }
    [api, worker] = await Promise.all([
      startService('api', {
        ...serviceEnvironment('api', database.url, ports),
        REDIS_PASSWORD: state.passwords.api,
      }),
      startService('worker', {
        ...serviceEnvironment('worker', database.url, ports),
        REDIS_PASSWORD: state.passwords.worker,
      }),
    ]);
    postgres = new pg.Pool({ connectionString: database.url, max: 2 });
    for (const name of ['ann', 'ben'] as const) {
      people[name].token = (await loginAs(api.baseUrl, people[name].username)).token;
    }
    queue = new Queue(MAINTENANCE_QUEUE, {
      connection: connect(state, 'worker'),
      prefix: queuePrefix('quad:'),
    });
    events = new QueueEvents(MAINTENANCE_QUEUE, {
      connection: connect(state, 'worker'),
      prefix: queuePrefix('quad:'),
      // From the stream's start, so a fast job's completion is never missed.
      lastEventId: '0-0',
    });
    await events.waitUntilReady();

    const created = await callApi(api.baseUrl, 'POST', '/conversations', {
      token: people.ann.token,
      body: { kind: 'direct', userId: people.ben.id },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    conversationId = String(created.body.id);
    for (const body of ['Field trip permission slips', 'Bus leaves at eight', 'See you Monday']) {
      const sent = await callApi(api.baseUrl, 'POST', `/conversations/${conversationId}/messages`, {
        token: people.ann.token,
        body: { body, idempotencyKey: randomUUID() },
      });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      messageIds.push(String(sent.body.id));
    }
  });

  after(async () => {
    await events?.close();
    await queue?.close();
    for (const client of clients) client.disconnect();
    await postgres?.end();
    await Promise.all([api?.stop(), worker?.stop()]);
    await Promise.all([state?.dispose(), cache?.dispose()]);
    await database?.drop();
  });

  it('blanks messages past the institution’s retention and corrects every cache', async () => {
    // The first two messages are 40 days old.
    await postgres.query(
      `UPDATE messages SET created_at = now() - interval '40 days' WHERE id = ANY($1::uuid[])`,
      [messageIds.slice(0, 2)],
    );
    // No retention configured: nothing is touched.
    const keep = await run<{ retentionDays: number | null; messages: number }>('retention-cleanup');
    assert.deepEqual(
      { days: keep.retentionDays, messages: keep.messages },
      { days: null, messages: 0 },
    );

    // Every cache that could show the old words is filled first.
    assert.equal((await history(people.ben)).filter((m) => m.body !== null).length, 3);
    assert.equal(await unreadOf(people.ben), 3);
    assert.deepEqual(await search(people.ben, 'permission slips'), [messageIds[0]]);

    await postgres.query(
      `INSERT INTO institution_settings (key, value) VALUES ('messages.retention_days', '30')
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`,
    );
    const result = await run<{ retentionDays: number; messages: number; conversations: number }>(
      'retention-cleanup',
    );
    assert.deepEqual(result, { retentionDays: 30, messages: 2, conversations: 1, affected: 2 });

    const rows = await postgres.query<{ id: string; body: string | null; deleted: boolean }>(
      `SELECT id, body, deleted_at IS NOT NULL AS deleted FROM messages
       WHERE conversation_id = $1 ORDER BY seq`,
      [conversationId],
    );
    assert.deepEqual(
      rows.rows.map((row) => [row.body, row.deleted]),
      [
        [null, true],
        [null, true],
        ['See you Monday', false],
      ],
    );
    // Served from the caches right after: the words are gone everywhere.
    const shown = await history(people.ben);
    assert.deepEqual(
      shown.map((m) => m.body),
      ['See you Monday', null, null],
    );
    assert.equal(await unreadOf(people.ben), 1);
    assert.deepEqual(await search(people.ben, 'permission slips'), []);

    const again = await run<{ messages: number }>('retention-cleanup');
    assert.equal(again.messages, 0);
    assert.equal(
      await scrapeMetric(worker.baseUrl, 'maintenance_rows_affected_total', {
        job: 'retention-cleanup',
      }),
      2,
    );
    assert.equal(
      await scrapeMetric(worker.baseUrl, 'maintenance_job_runs_total', {
        job: 'retention-cleanup',
        result: 'completed',
      }),
      3,
    );
  });

  it('deletes sessions that ended more than the grace period ago, and only those', async () => {
    const insert = async (label: string, expires: string, revoked: string | null) => {
      const row = await postgres.query<{ id: string }>(
        `INSERT INTO sessions (token_hash, user_id, created_at, expires_at, revoked_at, user_agent)
         VALUES ($1, $2, now() - interval '60 days', now() + $3::interval,
                 now() + $4::interval, $5)
         RETURNING id`,
        [randomBytes(32), people.ann.id, expires, revoked, label],
      );
      return String(row.rows[0]?.id);
    };
    const longExpired = await insert('expired 10 days ago', '-10 days', null);
    const longRevoked = await insert('revoked 8 days ago', '+5 days', '-8 days');
    const recentlyExpired = await insert('expired 2 days ago', '-2 days', null);
    const recentlyRevoked = await insert('revoked yesterday', '+5 days', '-1 day');

    const result = await run<{ sessions: number }>('expired-sessions');
    assert.equal(result.sessions, 2);
    const left = await postgres.query<{ id: string }>('SELECT id FROM sessions');
    const ids = new Set(left.rows.map((row) => row.id));
    assert.ok(!ids.has(longExpired) && !ids.has(longRevoked));
    assert.ok(ids.has(recentlyExpired) && ids.has(recentlyRevoked));
    // The live sessions of the logins above still work.
    assert.equal(
      (await callApi(api.baseUrl, 'GET', '/me', { token: people.ann.token })).status,
      200,
    );
  });

  it('sweeps presence left behind by a gateway that died', async () => {
    // A connection registered by a "gateway" that then vanished: its deadline passes.
    const gateway = new Presence({
      redis: connect(state, 'worker'),
      keyPrefix: 'quad:',
      registry: new Registry(),
      ttlMs: 1_000,
    });
    assert.equal(await gateway.connect(people.ben.id, 'crashed-gateway:1'), true);
    await waitFor('the connection to expire', async () => {
      const presence = await gateway.presenceOf([people.ben.id]);
      return presence?.get(people.ben.id)?.online === false;
    });
    await run('stale-realtime');
    // The worker reported (and announced) it: nothing is left for anyone else to sweep.
    assert.deepEqual(await gateway.sweepExpired(), []);
    assert.ok(
      (await scrapeMetric(worker.baseUrl, 'maintenance_job_runs_total', {
        job: 'stale-realtime',
        result: 'completed',
      })) >= 1,
    );
  });

  it('warms unread counts and recent messages after the cache Redis is flushed', async () => {
    const admin = connect(cache, 'default');
    const keys = async (pattern: string) => {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
        cursor = next;
        found.push(...batch);
      } while (cursor !== '0');
      return found;
    };
    // Whoever ran first (this or a scheduled run) left the sentinel: no second warm-up.
    await run('cache-warm-up');
    const second = await run<{ warmed: boolean }>('cache-warm-up');
    assert.equal(second.warmed, false);

    await admin.flushall();
    assert.deepEqual(await keys('*'), []);
    await run('cache-warm-up');
    await waitFor('the warm-up to finish', async () =>
      ((await admin.get('quad:cache:warm-up:sentinel')) ?? '').startsWith('warm since'),
    );
    const recent = await keys('*recent-messages*');
    assert.ok(
      recent.some((key) => key.includes(conversationId)),
      `recent messages of the active conversation are cached: ${recent.join(', ')}`,
    );
    const unread = await keys('*unread-counts*');
    for (const person of [people.ann, people.ben]) {
      assert.ok(
        unread.some((key) => key.includes(person.id)),
        `unread counts of ${person.id} are cached: ${unread.join(', ')}`,
      );
    }
    // And they are right: the api serves the warmed values.
    assert.equal(await unreadOf(people.ben), 1);
    assert.deepEqual(
      (await history(people.ben)).map((m) => m.body),
      ['See you Monday', null, null],
    );
  });
});
