import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { cacheKey } from '../../lib/cache/index.js';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { callApi as call, createAccount, loginAs } from '../harness/api-client.js';
import { startPostgresServer, type TestPostgresServer } from '../harness/postgres-server.js';
import { startRedisServer, type TestRedisServer } from '../harness/redis-server.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedServers,
  uniqueName,
} from '../harness/test-environment.js';

// Messages: idempotent send, edit, soft delete, cursor pagination, the recent-messages cache
// (warm without PostgreSQL, rebuilt after FLUSHALL) and validation, against a real api process,
// PostgreSQL and Redis.

interface MessageBody {
  id: string;
  body: string | null;
  editedAt: string | null;
  deletedAt: string | null;
}

async function createAccounts(databaseUrl: string, names: readonly string[]) {
  for (const name of names) await createAccount(databaseUrl, name);
}

async function login(baseUrl: string, username: string) {
  const { token, userId } = await loginAs(baseUrl, username);
  return { token, id: userId };
}

const generousLimits = JSON.stringify({
  'login-ip': { limit: 1_000, windowMs: 60_000 },
  'login-account': { limit: 1_000, windowMs: 60_000 },
  'message-send': { limit: 10_000, windowMs: 10_000 },
});

/** Every page of a conversation's history, newest first, following nextCursor. */
async function wholeHistory(baseUrl: string, token: string, id: string, limit: number) {
  const seen: MessageBody[] = [];
  let cursor: string | undefined;
  for (;;) {
    const query = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = await call(baseUrl, 'GET', `/conversations/${id}/messages${query}`, { token });
    assert.equal(page.status, 200, JSON.stringify(page.body));
    seen.push(...(page.body.messages as MessageBody[]));
    cursor = page.body.nextCursor as string | undefined;
    if (cursor === undefined) return seen;
  }
}

describe('messages: send, edit, delete, history', () => {
  const servers = sharedServers();
  const keyPrefix = `quad:${uniqueName('msg')}:`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: ServiceProcess;
  let ann: { token: string; id: string };
  let ben: { token: string; id: string };
  let conversationId: string;
  const cacheRedis = new Redis({
    port: servers.redisCache.port,
    password: servers.redisCache.passwords.default,
    lazyConnect: true,
  });

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    await createAccounts(database.url, ['ann', 'ben']);
    api = await startService('api', {
      ...serviceEnvironment('api', database.url),
      REDIS_KEY_PREFIX: keyPrefix,
      RATE_LIMITS: generousLimits,
    });
    await cacheRedis.connect();
    ann = await login(api.baseUrl, 'ann');
    ben = await login(api.baseUrl, 'ben');
    const created = await call(api.baseUrl, 'POST', '/conversations', {
      token: ann.token,
      body: { kind: 'group', title: 'Maths', memberIds: [ben.id] },
    });
    conversationId = String(created.body.id);
  });
  after(async () => {
    cacheRedis.disconnect();
    await api?.stop();
    await database?.drop();
  });

  it('concurrent retries of one send store one message and all return it', async () => {
    const idempotencyKey = crypto.randomUUID();
    const replies = await Promise.all(
      Array.from({ length: 20 }, () =>
        call(api.baseUrl, 'POST', `/conversations/${conversationId}/messages`, {
          token: ann.token,
          body: { body: 'only once', idempotencyKey },
        }),
      ),
    );
    // Every retry gets the answer the original would have had: the client may never have seen it.
    for (const reply of replies) assert.equal(reply.status, 201, JSON.stringify(reply.body));
    assert.equal(new Set(replies.map((reply) => reply.body.id)).size, 1);

    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const rows = await db.query(
        'SELECT count(*)::int AS n FROM messages WHERE idempotency_key = $1',
        [idempotencyKey],
      );
      assert.equal(rows.rows[0].n, 1);
    } finally {
      await db.end();
    }
    const reused = await call(api.baseUrl, 'POST', `/conversations/${conversationId}/messages`, {
      token: ann.token,
      body: { body: 'something else', idempotencyKey },
    });
    assert.equal(reused.status, 409, 'a used key with other text is refused, not swallowed');
    const history = await call(api.baseUrl, 'GET', `/conversations/${conversationId}/messages`, {
      token: ben.token,
    });
    const bodies = (history.body.messages as MessageBody[]).map((message) => message.body);
    assert.deepEqual(bodies, ['only once'], 'one copy in the cached first page too');
  });

  it('pages newest first with stable cursors while others keep sending', async () => {
    const created = await call(api.baseUrl, 'POST', '/conversations', {
      token: ann.token,
      body: { kind: 'group', title: 'Busy', memberIds: [ben.id] },
    });
    const id = String(created.body.id);
    const sendOne = (text: string) =>
      call(api.baseUrl, 'POST', `/conversations/${id}/messages`, {
        token: ann.token,
        body: { body: text, idempotencyKey: crypto.randomUUID() },
      });
    for (let index = 0; index < 130; index++) {
      assert.equal((await sendOne(`m${index}`)).status, 201);
    }
    // Page through while 40 more arrive concurrently: no message is skipped or repeated
    // among those that existed when paging began, and the order is strictly newest first.
    const concurrent = Promise.all(
      Array.from({ length: 40 }, (_, index) => sendOne(`late${index}`)),
    );
    const pages = await wholeHistory(api.baseUrl, ben.token, id, 25);
    await concurrent;
    const bodies = pages.map((message) => message.body ?? '');
    assert.equal(new Set(bodies).size, bodies.length, 'no repeats');
    const early = bodies.filter((body) => body.startsWith('m'));
    assert.deepEqual(
      early,
      Array.from({ length: 130 }, (_, index) => `m${129 - index}`),
    );

    // After the burst: the whole history, newest first, first page from the trimmed cache.
    const all = await wholeHistory(api.baseUrl, ben.token, id, 100);
    assert.equal(all.length, 170);
    const cached = await cacheRedis.zcard(cacheKey(keyPrefix, 'recent-messages', id));
    assert.equal(cached, 101, '100 messages and the completeness marker');
  });

  it('edits by the author only; deletes by the author or an admin; reads never show a deleted body', async () => {
    const sent = await call(api.baseUrl, 'POST', `/conversations/${conversationId}/messages`, {
      token: ben.token,
      body: { body: 'typo hre', idempotencyKey: crypto.randomUUID() },
    });
    const messageId = String(sent.body.id);
    const path = `/conversations/${conversationId}/messages/${messageId}`;
    const firstPage = async () =>
      (
        await call(api.baseUrl, 'GET', `/conversations/${conversationId}/messages?limit=5`, {
          token: ann.token,
        })
      ).body.messages as MessageBody[];
    assert.equal((await firstPage())[0]?.body, 'typo hre', 'cached');

    assert.equal(
      (await call(api.baseUrl, 'PATCH', path, { token: ann.token, body: { body: 'x' } })).status,
      403,
    );
    const edited = await call(api.baseUrl, 'PATCH', path, {
      token: ben.token,
      body: { body: 'typo here' },
    });
    assert.equal(edited.status, 200);
    assert.ok(edited.body.editedAt);
    assert.equal((await firstPage())[0]?.body, 'typo here', 'the cache shows the edit');

    // Ann owns the group: she may delete Ben's message.
    assert.equal((await call(api.baseUrl, 'DELETE', path, { token: ann.token })).status, 204);
    const deleted = (await firstPage())[0];
    assert.equal(deleted?.id, messageId);
    assert.equal(deleted?.body, null);
    assert.ok(deleted?.deletedAt);
    assert.equal(
      (await call(api.baseUrl, 'PATCH', path, { token: ben.token, body: { body: 'back' } })).status,
      404,
    );
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const row = await db.query('SELECT body FROM messages WHERE id = $1', [messageId]);
      assert.equal(row.rows[0].body, null, 'the words are gone from PostgreSQL too');
    } finally {
      await db.end();
    }
  });

  it('refuses unknown fields, oversize and empty bodies, bad limits and forged cursors', async () => {
    const path = `/conversations/${conversationId}/messages`;
    const cases: Array<{ body: unknown; field: string }> = [
      { body: { body: 'hi', idempotencyKey: 'k1', sender: ben.id }, field: 'sender' },
      { body: { body: 'x'.repeat(4_001), idempotencyKey: 'k2' }, field: 'body' },
      { body: { body: '   ', idempotencyKey: 'k3' }, field: 'body' },
      { body: { body: 'hi' }, field: 'idempotencyKey' },
    ];
    for (const { body, field } of cases) {
      const reply = await call(api.baseUrl, 'POST', path, { token: ann.token, body });
      assert.equal(reply.status, 400, JSON.stringify(reply.body));
      assert.equal(reply.body.code, 'validation_failed');
      const errors = reply.body.errors as Array<{ field: string }>;
      assert.ok(
        errors.some((error) => error.field === field),
        JSON.stringify(errors),
      );
    }
    // Exactly the maximum is accepted.
    const longest = await call(api.baseUrl, 'POST', path, {
      token: ann.token,
      body: { body: 'x'.repeat(4_000), idempotencyKey: crypto.randomUUID() },
    });
    assert.equal(longest.status, 201);

    for (const query of ['?limit=0', '?limit=101', '?limit=ten', '?cursor=bm9wZQ', '?page=2']) {
      const reply = await call(api.baseUrl, 'GET', `${path}${query}`, { token: ann.token });
      assert.equal(reply.status, 400, `${query}: ${JSON.stringify(reply.body)}`);
    }
    const badCreate = await call(api.baseUrl, 'POST', '/conversations', {
      token: ann.token,
      body: { kind: 'group', title: 'x', memberIds: [crypto.randomUUID()] },
    });
    assert.equal(badCreate.status, 400, 'unknown members are named');
  });
});

describe('messages: the first page needs no PostgreSQL when warm, and survives FLUSHALL', () => {
  let postgres: TestPostgresServer;
  let state: TestRedisServer;
  let cache: TestRedisServer;
  let api: ServiceProcess;

  before(async () => {
    // A private PostgreSQL (stopped below) and a private Redis pair (flushed below).
    [postgres, state] = await Promise.all([startPostgresServer(), startRedisServer('state')]);
    cache = await startRedisServer('cache', state.passwords);
    const databaseUrl = postgres.url('postgres');
    await runMigrations(databaseUrl, createLogger('test', 'silent'));
    await createAccounts(databaseUrl, ['fay', 'gus']);
    api = await startService('api', {
      ...serviceEnvironment('api', databaseUrl, { state: state.port, cache: cache.port }),
      REDIS_PASSWORD: state.passwords.api,
      RATE_LIMITS: generousLimits,
    });
  });
  after(async () => {
    await api?.stop();
    await Promise.all([postgres?.dispose(), state?.dispose(), cache?.dispose()]);
  });

  it('FLUSHALL: a cold cache is rebuilt from PostgreSQL with nothing lost', async () => {
    const fay = await login(api.baseUrl, 'fay');
    const gus = await login(api.baseUrl, 'gus');
    const created = await call(api.baseUrl, 'POST', '/conversations', {
      token: fay.token,
      body: { kind: 'direct', userId: gus.id },
    });
    const id = String(created.body.id);
    const sendOne = (text: string) =>
      call(api.baseUrl, 'POST', `/conversations/${id}/messages`, {
        token: fay.token,
        body: { body: text, idempotencyKey: crypto.randomUUID() },
      });
    for (const text of ['a', 'b']) assert.equal((await sendOne(text)).status, 201);
    const read = async () =>
      (
        (await call(api.baseUrl, 'GET', `/conversations/${id}/messages`, { token: gus.token })).body
          .messages as MessageBody[]
      ).map((message) => message.body);
    assert.deepEqual(await read(), ['b', 'a']);

    for (const server of [state, cache]) {
      const redis = new Redis({
        port: server.port,
        password: server.passwords.default,
        lazyConnect: true,
      });
      await redis.connect();
      assert.equal(await redis.flushall(), 'OK');
      redis.disconnect();
    }
    // A send into the cold cache must not produce a set that looks complete.
    assert.equal((await sendOne('c')).status, 201);
    assert.deepEqual(await read(), ['c', 'b', 'a']);
    assert.equal((await sendOne('d')).status, 201);
    assert.deepEqual(await read(), ['d', 'c', 'b', 'a'], 'warm again, and appended to');
  });

  it('a warm first page of history is served with PostgreSQL stopped', async () => {
    const fay = await login(api.baseUrl, 'fay');
    const list = await call(api.baseUrl, 'GET', '/conversations', { token: fay.token });
    const id = String((list.body.conversations as Array<{ id: string }>)[0]?.id);
    const path = `/conversations/${id}/messages?limit=3`;
    const warm = await call(api.baseUrl, 'GET', path, { token: fay.token });
    assert.equal(warm.status, 200);

    await postgres.stop();
    try {
      for (let request = 0; request < 3; request++) {
        const page = await call(api.baseUrl, 'GET', path, { token: fay.token });
        assert.equal(page.status, 200, JSON.stringify(page.body));
        assert.deepEqual(page.body, warm.body);
      }
      // The next page needs PostgreSQL and says so plainly.
      const older = await call(
        api.baseUrl,
        'GET',
        `/conversations/${id}/messages?limit=3&cursor=${String(warm.body.nextCursor)}`,
        { token: fay.token },
      );
      assert.equal(older.status, 503);
    } finally {
      await postgres.restart();
    }
  });
});

describe('messages: the message-send rate limit', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: ServiceProcess;

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    await createAccounts(database.url, ['hal', 'ivy']);
    api = await startService('api', {
      ...serviceEnvironment('api', database.url),
      REDIS_KEY_PREFIX: `quad:${uniqueName('msgrl')}:`,
      RATE_LIMITS: JSON.stringify({ 'message-send': { limit: 3, windowMs: 60_000 } }),
    });
  });
  after(async () => {
    await api?.stop();
    await database?.drop();
  });

  it('a user over the limit gets 429 with Retry-After, and nothing is stored', async () => {
    const hal = await login(api.baseUrl, 'hal');
    const ivy = await login(api.baseUrl, 'ivy');
    const created = await call(api.baseUrl, 'POST', '/conversations', {
      token: hal.token,
      body: { kind: 'direct', userId: ivy.id },
    });
    const id = String(created.body.id);
    const sendAs = (token: string, text: string) =>
      call(api.baseUrl, 'POST', `/conversations/${id}/messages`, {
        token,
        body: { body: text, idempotencyKey: crypto.randomUUID() },
      });
    for (const text of ['1', '2', '3']) assert.equal((await sendAs(hal.token, text)).status, 201);
    const refused = await sendAs(hal.token, '4');
    assert.equal(refused.status, 429);
    assert.equal(refused.body.code, 'rate_limited');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal((await sendAs(ivy.token, 'mine')).status, 201, 'per user, not per conversation');
    const history = await call(api.baseUrl, 'GET', `/conversations/${id}/messages`, {
      token: ivy.token,
    });
    assert.deepEqual(
      (history.body.messages as MessageBody[]).map((message) => message.body),
      ['mine', '3', '2', '1'],
    );
  });
});
