import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { cacheKey } from '../../lib/cache/index.js';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import {
  callApi,
  createAccount,
  loginAs,
  type Reply,
  TEST_PASSWORD,
} from '../harness/api-client.js';
import { startPostgresServer, type TestPostgresServer } from '../harness/postgres-server.js';
import { startRedisServer, type TestRedisServer } from '../harness/redis-server.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedServers,
  uniqueName,
} from '../harness/test-environment.js';

// Login, logout and sessions against real api processes, real PostgreSQL and real Redis.

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A Redis client as the operator (`default` user, which may FLUSHALL). */
function adminRedis(port: number, password: string): Redis {
  return new Redis({ port, password, lazyConnect: true, maxRetriesPerRequest: 1 });
}

describe('auth: login, logout and sessions', () => {
  const servers = sharedServers();
  const keyPrefix = `quad:${uniqueName('auth')}:`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: ServiceProcess;
  const cacheRedis = adminRedis(servers.redisCache.port, servers.redisCache.passwords.default);

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    await Promise.all([
      createAccount(database.url, 'alice'),
      createAccount(database.url, 'bob', 'teacher'),
      createAccount(database.url, 'carol'),
    ]);
    api = await startService('api', {
      ...serviceEnvironment('api', database.url),
      REDIS_KEY_PREFIX: keyPrefix,
      // Generous login limits: this suite logs in often from one address; the limits
      // themselves are tested below with their own instances.
      RATE_LIMITS: JSON.stringify({
        'login-ip': { limit: 1_000, windowMs: 60_000 },
        'login-account': { limit: 1_000, windowMs: 60_000 },
      }),
    });
    await cacheRedis.connect();
  });
  after(async () => {
    cacheRedis.disconnect();
    await api?.stop();
    await database?.drop();
  });

  it('logs in with the right password; wrong password and unknown user get the same 401 after the same work', async () => {
    const reply = await callApi(api.baseUrl, 'POST', '/auth/login', {
      body: { username: ' Alice ', password: TEST_PASSWORD },
    });
    assert.equal(reply.status, 200);
    assert.match(String(reply.body.token), /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(
      {
        username: (reply.body.user as { username: string }).username,
        current: (reply.body.session as { current: boolean }).current,
      },
      { username: 'alice', current: true },
    );
    const me = await callApi(api.baseUrl, 'GET', '/me', { token: String(reply.body.token) });
    assert.equal(me.status, 200);
    assert.equal(me.body.email, 'alice@school.example');

    // The token itself is stored nowhere: only its SHA-256, in PostgreSQL and as the cache key.
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const rows = await db.query<{ token_hash: Buffer }>('SELECT token_hash FROM sessions');
      const hashes = rows.rows.map((row) => row.token_hash.toString('hex'));
      assert.ok(hashes.includes(sha256(String(reply.body.token))));
      const dump = JSON.stringify(await db.query('SELECT * FROM sessions'));
      assert.ok(!dump.includes(String(reply.body.token)));
    } finally {
      await db.end();
    }

    const verifications = async () => {
      const text = await (await fetch(`${api.baseUrl}/metrics`)).text();
      return Number(text.match(/^auth_password_verifications_total\{service="api"\} (\d+)$/m)?.[1]);
    };
    const before = await verifications();
    let wrong: Reply | undefined;
    let unknown: Reply | undefined;
    for (let round = 0; round < 5; round++) {
      wrong = await callApi(api.baseUrl, 'POST', '/auth/login', {
        body: { username: 'alice', password: 'not the password at all' },
      });
      unknown = await callApi(api.baseUrl, 'POST', '/auth/login', {
        body: { username: `nobody-${round}`, password: 'not the password at all' },
      });
    }
    assert.equal(wrong?.status, 401);
    assert.equal(wrong?.headers.get('content-type'), 'application/problem+json');
    assert.deepEqual(unknown?.body, wrong?.body, 'same answer: usernames cannot be probed');
    assert.equal(wrong?.body.code, 'unauthorized');
    // Unknown usernames cost one argon2id verification (against a decoy hash made with the
    // same parameters) exactly like wrong passwords, so answer times do not reveal which
    // usernames exist. Counted, not timed: timings on a shared machine prove nothing.
    assert.equal((await verifications()) - before, 10);

    const metrics = await (await fetch(`${api.baseUrl}/metrics`)).text();
    assert.match(metrics, /auth_logins_total\{result="failure",service="api"\} 10/);
  });

  it('refuses malformed logins with validation_failed naming each field, before any hashing', async () => {
    const reply = await callApi(api.baseUrl, 'POST', '/auth/login', {
      body: { username: 'a', password: '', remember: true },
    });
    assert.equal(reply.status, 400);
    assert.equal(reply.body.code, 'validation_failed');
    const fields = (reply.body.errors as Array<{ field: string; code: string }>).map(
      (error) => `${error.field}:${error.code}`,
    );
    assert.deepEqual(fields.sort(), [
      'password:too_small',
      'remember:unknown_field',
      'username:invalid_format',
    ]);

    const notJson = await fetch(`${api.baseUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"username": ',
    });
    assert.equal(notJson.status, 400);
    assert.equal(((await notJson.json()) as { code: string }).code, 'validation_failed');
  });

  it('logout: the token is refused on the very next request', async () => {
    const { token } = await loginAs(api.baseUrl, 'carol');
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { token })).status, 200);
    assert.equal((await callApi(api.baseUrl, 'POST', '/auth/logout', { token })).status, 204);
    const after = await callApi(api.baseUrl, 'GET', '/me', { token });
    assert.equal(after.status, 401);
    assert.equal(
      after.headers.get('www-authenticate'),
      'Bearer realm="quad", error="invalid_token"',
    );
    assert.equal((await callApi(api.baseUrl, 'POST', '/auth/logout', { token })).status, 401);
  });

  it('sessions: list, revoke one (refused at once, though cached), revoke all', async () => {
    const first = await loginAs(api.baseUrl, 'alice');
    const second = await loginAs(api.baseUrl, 'alice');
    // Both are warm: login wrote them through to the cache, and a request read them back.
    for (const { token } of [first, second]) {
      assert.equal((await callApi(api.baseUrl, 'GET', '/me', { token })).status, 200);
      assert.equal(await cacheRedis.exists(cacheKey(keyPrefix, 'session', sha256(token))), 1);
    }

    const list = await callApi(api.baseUrl, 'GET', '/auth/sessions', { token: first.token });
    assert.equal(list.status, 200);
    const sessions = list.body.sessions as Array<{ id: string; current: boolean; ip: string }>;
    assert.ok(sessions.length >= 2);
    assert.deepEqual(
      sessions.filter((session) => session.current).map((session) => session.id),
      [first.sessionId],
    );
    assert.ok(sessions.some((session) => session.id === second.sessionId));

    // Someone else's session id is "not found", and stays alive.
    const bob = await loginAs(api.baseUrl, 'bob');
    const stranger = await callApi(api.baseUrl, 'DELETE', `/auth/sessions/${second.sessionId}`, {
      token: bob.token,
    });
    assert.equal(stranger.status, 404);
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { token: second.token })).status, 200);

    const revoked = await callApi(api.baseUrl, 'DELETE', `/auth/sessions/${second.sessionId}`, {
      token: first.token,
    });
    assert.equal(revoked.status, 204);
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { token: second.token })).status, 401);
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { token: first.token })).status, 200);

    const all = await callApi(api.baseUrl, 'DELETE', '/auth/sessions', { token: first.token });
    assert.equal(all.status, 200);
    assert.ok(Number(all.body.revoked) >= 1);
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { token: first.token })).status, 401);
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { token: bob.token })).status, 200);
  });

  it('refuses credentials that are malformed, doubled or unknown, and charges them to the address', async () => {
    for (const authorization of [
      'Bearer',
      'Bearer x',
      `Basic ${'a'.repeat(43)}`,
      `Bearer ${'a'.repeat(43)}`,
    ]) {
      const response = await fetch(`${api.baseUrl}/api/v1/`, { headers: { authorization } });
      assert.equal(response.status, 401, authorization);
      assert.match(response.headers.get('ratelimit') ?? '', /^"api-anonymous";/);
    }
    const { token } = await loginAs(api.baseUrl, 'bob');
    const both = await fetch(`${api.baseUrl}/api/v1/me`, {
      headers: { authorization: `Bearer ${token}`, 'x-api-key': 'qk_whatever' },
    });
    assert.equal(both.status, 401, 'two credentials at once are ambiguous');
    const ok = await fetch(`${api.baseUrl}/api/v1/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.match(ok.headers.get('ratelimit') ?? '', /^"api-user";/);
  });
});

describe('auth: sessions survive Redis loss and need no PostgreSQL when warm', () => {
  let postgres: TestPostgresServer;
  let state: TestRedisServer;
  let cache: TestRedisServer;
  let api: ServiceProcess;
  let databaseUrl: string;

  before(async () => {
    // A private PostgreSQL (stopped below) and a private Redis pair (flushed below), so that no
    // other test file is disturbed.
    [postgres, state] = await Promise.all([startPostgresServer(), startRedisServer('state')]);
    cache = await startRedisServer('cache', state.passwords);
    databaseUrl = postgres.url('postgres');
    await runMigrations(databaseUrl, createLogger('test', 'silent'));
    await Promise.all([createAccount(databaseUrl, 'dana'), createAccount(databaseUrl, 'eve')]);
    api = await startService('api', {
      ...serviceEnvironment('api', databaseUrl, { state: state.port, cache: cache.port }),
      REDIS_PASSWORD: state.passwords.api,
    });
  });
  after(async () => {
    await api?.stop();
    await Promise.all([postgres?.dispose(), state?.dispose(), cache?.dispose()]);
  });

  it('FLUSHALL in the middle: live sessions still work, revoked ones stay revoked', async () => {
    const kept = await loginAs(api.baseUrl, 'dana');
    const dropped = await loginAs(api.baseUrl, 'dana');
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { token: kept.token })).status, 200);
    assert.equal(
      (
        await callApi(api.baseUrl, 'DELETE', `/auth/sessions/${dropped.sessionId}`, {
          token: kept.token,
        })
      ).status,
      204,
    );

    for (const server of [state, cache]) {
      const redis = adminRedis(server.port, server.passwords.default);
      await redis.connect();
      assert.equal(await redis.flushall(), 'OK');
      assert.equal(await redis.dbsize(), 0);
      redis.disconnect();
    }

    const me = await callApi(api.baseUrl, 'GET', '/me', { token: kept.token });
    assert.equal(me.status, 200, 'rebuilt from PostgreSQL');
    assert.equal(me.body.username, 'dana');
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { token: dropped.token })).status, 401);
    const list = await callApi(api.baseUrl, 'GET', '/auth/sessions', { token: kept.token });
    assert.deepEqual(
      (list.body.sessions as Array<{ id: string }>).map((session) => session.id),
      [kept.sessionId],
    );
  });

  it('a warm session check never touches PostgreSQL: it answers with PostgreSQL stopped', async () => {
    const { token } = await loginAs(api.baseUrl, 'eve');
    // Warm: login wrote the session and the profile through to the cache.
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { token })).status, 200);

    await postgres.stop();
    try {
      for (let request = 0; request < 3; request++) {
        const me = await callApi(api.baseUrl, 'GET', '/me', { token });
        assert.equal(me.status, 200, JSON.stringify(me.body));
        assert.equal(me.body.username, 'eve');
      }
      // A route that needs PostgreSQL says so plainly, and a cold token cannot be checked.
      const sessions = await callApi(api.baseUrl, 'GET', '/auth/sessions', { token });
      assert.equal(sessions.status, 503);
      assert.equal(sessions.body.code, 'service_unavailable');
      assert.equal(sessions.headers.get('retry-after'), '5');
      const cold = await callApi(api.baseUrl, 'GET', '/me', { token: 'b'.repeat(43) });
      assert.equal(cold.status, 503);
    } finally {
      await postgres.restart();
    }
    const back = await callApi(api.baseUrl, 'GET', '/auth/sessions', { token });
    assert.equal(back.status, 200);
  });
});

describe('auth: login rate limits are shared by every api instance', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let instances: ServiceProcess[] = [];

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    await createAccount(database.url, 'frank');
    const env = {
      ...serviceEnvironment('api', database.url),
      REDIS_KEY_PREFIX: `quad:${uniqueName('authrl')}:`,
      RATE_LIMITS: JSON.stringify({
        'login-ip': { limit: 6, windowMs: 60_000 },
        'login-account': { limit: 3, windowMs: 60_000 },
      }),
    };
    instances = await Promise.all([startService('api', env), startService('api', env)]);
  });
  after(async () => {
    await Promise.all(instances.map((instance) => instance.stop()));
    await database?.drop();
  });

  it('a burst over the limit from one address gets 429 with correct headers on any instance', async () => {
    const attempt = async (index: number, username: string) => {
      const instance = instances[index % 2];
      assert.ok(instance);
      const response = await fetch(`${instance.baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: 'wrong password, again' }),
      });
      return { response, body: (await response.json()) as Record<string, unknown> };
    };

    // One account, alternating instances: login-account (3 per minute) stops the fourth.
    const statuses: number[] = [];
    for (let index = 0; index < 4; index++) {
      const { response, body } = await attempt(index, 'frank');
      statuses.push(response.status);
      if (response.status === 429) {
        assert.equal(response.headers.get('content-type'), 'application/problem+json');
        assert.equal(body.code, 'rate_limited');
        assert.deepEqual(body['violated-policies'], ['login-account']);
        const retryAfter = Number(response.headers.get('retry-after'));
        assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
        assert.match(response.headers.get('ratelimit-policy') ?? '', /"login-account";q=3;w=60/);
        assert.match(response.headers.get('ratelimit') ?? '', /"login-account";r=0;t=\d+/);
      }
    }
    assert.deepEqual(statuses, [401, 401, 401, 429]);

    // Other accounts, same address: login-ip (6 per minute) has 2 left, then refuses.
    const ipStatuses: number[] = [];
    for (let index = 0; index < 4; index++) {
      const { response, body } = await attempt(index, `guess-${index}`);
      ipStatuses.push(response.status);
      if (response.status === 429) {
        assert.equal(body.code, 'rate_limited');
        assert.deepEqual(body['violated-policies'], ['login-ip']);
        assert.ok(Number(response.headers.get('retry-after')) > 0);
        assert.match(response.headers.get('ratelimit-policy') ?? '', /"login-ip";q=6;w=60/);
        assert.match(response.headers.get('ratelimit') ?? '', /"login-ip";r=0;t=\d+/);
      }
    }
    assert.deepEqual(ipStatuses, [401, 401, 429, 429]);

    // Rejected attempts never reached the password check: across both instances, exactly the
    // five admitted attempts were hashed.
    let checked = 0;
    for (const instance of instances) {
      const metrics = await (await fetch(`${instance.baseUrl}/metrics`)).text();
      checked += Number(
        /auth_logins_total\{result="failure",service="api"\} (\d+)/.exec(metrics)?.[1] ?? 0,
      );
    }
    assert.equal(checked, 5);
  });
});
