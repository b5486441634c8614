import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import pg from 'pg';
import { cacheKey } from '../../lib/cache/index.js';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import {
  type AccessRow,
  assertAccessTable,
  assertBareProblem,
  assertTableCoversTags,
} from '../harness/access-table.js';
import { type Credential, callApi, loginAs, TEST_PASSWORD } from '../harness/api-client.js';
import { collectOutput, type ServiceProcess, startService } from '../harness/service-process.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedRedisClient,
  uniqueName,
} from '../harness/test-environment.js';

// Accounts administration, API keys, profiles, authorization of every route and the OpenAPI
// document, against a real api process, real PostgreSQL and real Redis. The first admin is
// made by the real CLI, as an operator would.

const root = join(import.meta.dirname, '..', '..');

async function quadAdminCreate(
  databaseUrl: string,
  args: string[],
  password: { stdin?: string; env?: string },
) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'services/cli/main.ts'), 'admin', 'create', ...args],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        NODE_ENV: 'test',
        DATABASE_URL: databaseUrl,
        ...(password.env !== undefined ? { QUAD_ADMIN_PASSWORD: password.env } : {}),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const { output, exited } = collectOutput(child);
  child.stdin?.end(password.stdin ?? '');
  return { code: await exited, output: output() };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('accounts: admin CLI, administration, API keys, profiles, authorization', () => {
  const keyPrefix = `quad:${uniqueName('acct')}:`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: ServiceProcess;
  const cacheRedis = sharedRedisClient('cache', 'default', { lazyConnect: true });
  /** Filled in order by the tests below (node:test runs them in sequence). */
  const people: Record<'admin' | 'teacher' | 'student', { id: string; token: string }> = {
    admin: { id: '', token: '' },
    teacher: { id: '', token: '' },
    student: { id: '', token: '' },
  };

  const login = async (username: string) => {
    const { token, userId, sessionId } = await loginAs(api.baseUrl, username);
    return { token, id: userId, sessionId };
  };

  const createUser = async (username: string, role: string) => {
    const reply = await callApi(api.baseUrl, 'POST', '/admin/users', {
      token: people.admin.token,
      body: {
        username,
        email: `${username}@school.example`,
        displayName: `${username} Example`,
        role,
        password: TEST_PASSWORD,
      },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    return String(reply.body.id);
  };

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    api = await startService('api', {
      ...serviceEnvironment('api', database.url),
      REDIS_KEY_PREFIX: keyPrefix,
    });
    await cacheRedis.connect();
  });
  after(async () => {
    cacheRedis.disconnect();
    await api?.stop();
    await database?.drop();
  });

  it('quad admin create: makes the first admin once, refuses duplicates and weak passwords', async () => {
    const args = [
      '--username',
      'Root',
      '--email',
      'root@school.example',
      '--display-name',
      'Head Office',
    ];
    const weak = await quadAdminCreate(database.url, args, { env: 'Password2026!' });
    assert.equal(weak.code, 65, weak.output);
    assert.match(weak.output, /password refused: is a common password/);

    const created = await quadAdminCreate(database.url, args, { stdin: `${TEST_PASSWORD}\n` });
    assert.equal(created.code, 0, created.output);
    assert.match(created.output, /created admin root \(/);

    const again = await quadAdminCreate(database.url, args, { env: TEST_PASSWORD });
    assert.equal(again.code, 1, again.output);
    assert.match(again.output, /an account with this username already exists; nothing was changed/);
    const sameEmail = await quadAdminCreate(
      database.url,
      ['--username', 'root2', '--email', 'ROOT@school.example', '--display-name', 'Other'],
      { env: TEST_PASSWORD },
    );
    assert.equal(sameEmail.code, 1, sameEmail.output);
    assert.match(sameEmail.output, /email already exists/);

    const usage = await quadAdminCreate(database.url, ['--username', 'x'], { env: TEST_PASSWORD });
    assert.equal(usage.code, 64, usage.output);
    assert.match(usage.output, /--username: 2-32 characters/);
    assert.match(usage.output, /--email: is required/);

    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const rows = await db.query('SELECT username, role, password_hash FROM users');
      assert.equal(rows.rows.length, 1);
      assert.equal(rows.rows[0].role, 'admin');
      assert.match(String(rows.rows[0].password_hash), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    } finally {
      await db.end();
    }
    const admin = await login('root');
    people.admin = { id: admin.id, token: admin.token };
  });

  it('admins create accounts; duplicates are conflicts and weak passwords are named', async () => {
    people.teacher.id = await createUser('t.jones', 'teacher');
    people.student.id = await createUser('s.pupil', 'student');
    people.teacher.token = (await login('t.jones')).token;
    people.student.token = (await login('S.Pupil')).token;

    const duplicate = await callApi(api.baseUrl, 'POST', '/admin/users', {
      token: people.admin.token,
      body: {
        username: 'T.JONES',
        email: 'other@school.example',
        displayName: 'Copy',
        role: 'student',
        password: TEST_PASSWORD,
      },
    });
    assert.equal(duplicate.status, 409);
    assert.deepEqual([duplicate.body.code, duplicate.body.field], ['conflict', 'username']);

    const weak = await callApi(api.baseUrl, 'POST', '/admin/users', {
      token: people.admin.token,
      body: {
        username: 'weakling',
        email: 'weakling@school.example',
        displayName: 'Weak Ling',
        role: 'student',
        password: 'weakling-2026',
      },
    });
    assert.equal(weak.status, 400);
    assert.equal(weak.body.code, 'validation_failed');
    assert.deepEqual(weak.body.errors, [
      {
        in: 'body',
        field: 'password',
        code: 'weak_password',
        message: 'must not contain your name, username or email address',
      },
    ]);

    const invalid = await callApi(api.baseUrl, 'POST', '/admin/users', {
      token: people.admin.token,
      body: {
        username: 'ok.name',
        email: 'nope',
        role: 'janitor',
        password: TEST_PASSWORD,
        admin: true,
      },
    });
    assert.equal(invalid.status, 400);
    const fields = (invalid.body.errors as Array<{ field: string }>).map((error) => error.field);
    assert.deepEqual(fields.sort(), ['admin', 'displayName', 'email', 'role']);
  });

  it('profiles: read and update my own, with every invalid field named', async () => {
    const { token } = people.student;
    const me = await callApi(api.baseUrl, 'GET', '/me', { token });
    assert.equal(me.status, 200);
    assert.deepEqual([me.body.username, me.body.role, me.body.bio], ['s.pupil', 'student', '']);

    const unknown = await callApi(api.baseUrl, 'PATCH', '/me', {
      token,
      body: { displayName: 'Sam', role: 'admin' },
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.code, 'validation_failed');
    assert.deepEqual(unknown.body.errors, [
      { in: 'body', field: 'role', code: 'unknown_field', message: 'is not a known field' },
    ]);
    const tooLong = await callApi(api.baseUrl, 'PATCH', '/me', {
      token,
      body: { displayName: 'x'.repeat(81), bio: 'ok' },
    });
    assert.equal(tooLong.status, 400);
    assert.deepEqual(
      (tooLong.body.errors as Array<{ field: string; code: string }>).map(
        (e) => `${e.field}:${e.code}`,
      ),
      ['displayName:too_big'],
    );
    assert.equal((await callApi(api.baseUrl, 'PATCH', '/me', { token, body: {} })).status, 400);

    const updated = await callApi(api.baseUrl, 'PATCH', '/me', {
      token,
      body: { displayName: '  Sam Pupil ', bio: 'Year 9.\nLikes chess.' },
    });
    assert.equal(updated.status, 200);
    assert.deepEqual(
      [updated.body.displayName, updated.body.bio],
      ['Sam Pupil', 'Year 9.\nLikes chess.'],
    );
    const again = await callApi(api.baseUrl, 'GET', '/me', { token });
    assert.equal(again.body.displayName, 'Sam Pupil');
  });

  it("another user's profile is public without email, cached, and refreshed by its owner's update", async () => {
    const path = `/users/${people.teacher.id}`;
    const first = await callApi(api.baseUrl, 'GET', path, { token: people.student.token });
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, {
      id: people.teacher.id,
      username: 't.jones',
      displayName: 't.jones Example',
      bio: '',
      role: 'teacher',
      active: true,
    });
    assert.equal(
      await cacheRedis.exists(cacheKey(keyPrefix, 'user-profile', people.teacher.id)),
      1,
    );

    // Behind the cache's back: the cached copy keeps answering, proof that reads are served
    // from Redis and not from PostgreSQL.
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      await db.query(`UPDATE users SET display_name = 'Changed Directly' WHERE id = $1`, [
        people.teacher.id,
      ]);
    } finally {
      await db.end();
    }
    const cached = await callApi(api.baseUrl, 'GET', path, { token: people.student.token });
    assert.equal(cached.body.displayName, 't.jones Example');

    // The owner's update commits, then invalidates: everyone sees it at once.
    const patch = await callApi(api.baseUrl, 'PATCH', '/me', {
      token: people.teacher.token,
      body: { displayName: 'Ms Jones' },
    });
    assert.equal(patch.status, 200);
    const fresh = await callApi(api.baseUrl, 'GET', path, { token: people.student.token });
    assert.equal(fresh.body.displayName, 'Ms Jones');

    const missing = await callApi(api.baseUrl, 'GET', `/users/${crypto.randomUUID()}`, {
      token: people.student.token,
    });
    assertBareProblem(missing, 404, 'unknown user');
    const malformed = await callApi(api.baseUrl, 'GET', '/users/42', {
      token: people.student.token,
    });
    assert.equal(malformed.status, 400);
  });

  it('API keys: shown once, act as their account, refused the moment they are revoked', async () => {
    const created = await callApi(api.baseUrl, 'POST', '/admin/api-keys', {
      token: people.admin.token,
      body: { name: 'Timetable sync', userId: people.teacher.id },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const key = String(created.body.key);
    assert.match(key, /^qk_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.body.prefix, key.slice(0, 11));

    const list = await callApi(api.baseUrl, 'GET', '/admin/api-keys', {
      token: people.admin.token,
    });
    assert.equal(list.status, 200);
    assert.ok(!JSON.stringify(list.body).includes(key), 'the key is never shown again');
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const dump = JSON.stringify((await db.query('SELECT * FROM api_keys')).rows);
      assert.ok(!dump.includes(key.slice(3)), 'only the hash is stored');
    } finally {
      await db.end();
    }

    const me = await callApi(api.baseUrl, 'GET', '/me', { apiKey: key });
    assert.equal(me.status, 200);
    assert.equal(me.body.username, 't.jones');
    assert.match(me.headers.get('ratelimit') ?? '', /^"api-key";/);
    assert.equal(await cacheRedis.exists(cacheKey(keyPrefix, 'api-key', sha256(key))), 1, 'warm');

    const revoke = await callApi(api.baseUrl, 'DELETE', `/admin/api-keys/${created.body.id}`, {
      token: people.admin.token,
    });
    assert.equal(revoke.status, 204);
    assertBareProblem(
      await callApi(api.baseUrl, 'GET', '/me', { apiKey: key }),
      401,
      'revoked key',
    );
    const listed = await callApi(api.baseUrl, 'GET', '/admin/api-keys', {
      token: people.admin.token,
    });
    const summary = (listed.body.apiKeys as Array<{ id: string; revokedAt: string | null }>).find(
      (apiKey) => apiKey.id === created.body.id,
    );
    assert.ok(summary?.revokedAt);
    assert.equal(
      (
        await callApi(api.baseUrl, 'DELETE', `/admin/api-keys/${crypto.randomUUID()}`, {
          token: people.admin.token,
        })
      ).status,
      404,
    );
  });

  it('deactivation: sessions and API keys of the account are refused on the next request', async () => {
    const userId = await createUser('g.leaving', 'student');
    const session = await login('g.leaving');
    const key = await callApi(api.baseUrl, 'POST', '/admin/api-keys', {
      token: people.admin.token,
      body: { name: 'Leaving bot', userId },
    });
    const apiKey = String(key.body.key);
    // Both credentials are warm in the cache before the deactivation.
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { token: session.token })).status, 200);
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { apiKey })).status, 200);

    const deactivated = await callApi(api.baseUrl, 'POST', `/admin/users/${userId}/deactivate`, {
      token: people.admin.token,
    });
    assert.equal(deactivated.status, 200);
    assert.ok(deactivated.body.deactivatedAt);
    assertBareProblem(
      await callApi(api.baseUrl, 'GET', '/me', { token: session.token }),
      401,
      'session',
    );
    assertBareProblem(await callApi(api.baseUrl, 'GET', '/me', { apiKey }), 401, 'api key');
    const relogin = await callApi(api.baseUrl, 'POST', '/auth/login', {
      body: { username: 'g.leaving', password: TEST_PASSWORD },
    });
    assert.equal(relogin.status, 401, 'same answer as a wrong password');
    const profile = await callApi(api.baseUrl, 'GET', `/users/${userId}`, {
      token: people.student.token,
    });
    assert.equal(profile.body.active, false);

    const again = await callApi(api.baseUrl, 'POST', `/admin/users/${userId}/deactivate`, {
      token: people.admin.token,
    });
    assert.equal(again.status, 200, 'idempotent');
    const self = await callApi(api.baseUrl, 'POST', `/admin/users/${people.admin.id}/deactivate`, {
      token: people.admin.token,
    });
    assert.equal(self.status, 409);
    assert.equal(self.body.code, 'conflict');
  });

  it('every route, called by a stranger, anonymously, with bad credentials or the wrong role, gets 401/403/404 and never data', async () => {
    // A teacher's API key (not an admin, and not a session).
    const created = await callApi(api.baseUrl, 'POST', '/admin/api-keys', {
      token: people.admin.token,
      body: { name: 'Teacher bot', userId: people.teacher.id },
    });
    const teacherKey = String(created.body.key);
    const adminSession = await login('root');
    const stranger = crypto.randomUUID();

    type Who = 'anonymous' | 'badToken' | 'badKey' | 'student' | 'teacherKey';
    const credentials: Record<Who, Credential> = {
      anonymous: {},
      badToken: { token: 'c'.repeat(43) },
      badKey: { apiKey: `qk_${'d'.repeat(43)}` },
      student: { token: people.student.token },
      teacherKey: { apiKey: teacherKey },
    };
    // Expected status per caller; absent = allowed for that caller (not exercised here).
    const signedIn = { anonymous: 401, badToken: 401, badKey: 401 };
    /** Routes of the session itself: an API key is refused. */
    const sessionOnly = { ...signedIn, teacherKey: 403 };
    const adminOnly = { ...signedIn, student: 403, teacherKey: 403 };
    const table: AccessRow<Who>[] = [
      {
        method: 'POST',
        path: '/auth/login',
        route: '/auth/login',
        expect: { badToken: 401, badKey: 401 },
      },
      { method: 'POST', path: '/auth/logout', route: '/auth/logout', expect: sessionOnly },
      { method: 'GET', path: '/auth/sessions', route: '/auth/sessions', expect: sessionOnly },
      // Someone else's session: "not found" to the student, whatever exists.
      {
        method: 'DELETE',
        path: `/auth/sessions/${adminSession.sessionId}`,
        route: '/auth/sessions/{id}',
        expect: { ...sessionOnly, student: 404 },
      },
      { method: 'DELETE', path: '/auth/sessions', route: '/auth/sessions', expect: sessionOnly },
      { method: 'GET', path: '/me', route: '/me', expect: signedIn },
      { method: 'PATCH', path: '/me', route: '/me', expect: signedIn },
      {
        method: 'GET',
        path: `/users/${stranger}`,
        route: '/users/{id}',
        expect: { ...signedIn, student: 404, teacherKey: 404 },
      },
      { method: 'POST', path: '/admin/users', route: '/admin/users', expect: adminOnly },
      {
        method: 'POST',
        path: `/admin/users/${people.admin.id}/deactivate`,
        route: '/admin/users/{id}/deactivate',
        expect: adminOnly,
      },
      { method: 'POST', path: '/admin/api-keys', route: '/admin/api-keys', expect: adminOnly },
      { method: 'GET', path: '/admin/api-keys', route: '/admin/api-keys', expect: adminOnly },
      {
        method: 'DELETE',
        path: `/admin/api-keys/${created.body.id}`,
        route: '/admin/api-keys/{id}',
        expect: adminOnly,
      },
      { method: 'GET', path: '/', route: '/', expect: { badToken: 401, badKey: 401 } },
      {
        method: 'GET',
        path: '/openapi.json',
        route: '/openapi.json',
        expect: { badToken: 401, badKey: 401 },
      },
    ];

    await assertAccessTable(api.baseUrl, table, credentials);

    // Nothing was changed by all that: the admin is active, the key works, sessions live.
    assert.equal(
      (await callApi(api.baseUrl, 'GET', '/me', { token: adminSession.token })).status,
      200,
    );
    assert.equal((await callApi(api.baseUrl, 'GET', '/me', { apiKey: teacherKey })).status, 200);

    // The table covers every route of this capability (and the api's own), as the OpenAPI
    // document lists them: a route added here without a row above fails this test. Other
    // capabilities keep the same kind of table for their tags.
    await assertTableCoversTags(api.baseUrl, table, ['auth', 'profiles', 'accounts', 'meta']);
  });

  it('serves a valid OpenAPI 3.1 document listing every route, generated from the schemas', async () => {
    const reply = await callApi(api.baseUrl, 'GET', '/openapi.json');
    assert.equal(reply.status, 200);
    const validator = new Validator();
    const result = await validator.validate(reply.body);
    assert.ok(result.valid, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, '3.1');

    const document = reply.body as {
      servers: Array<{ url: string }>;
      paths: Record<string, Record<string, { operationId: string; security: unknown[] }>>;
      components: {
        schemas: Record<
          string,
          { properties?: Record<string, unknown>; additionalProperties?: unknown }
        >;
      };
    };
    assert.deepEqual(document.servers, [{ url: '/api/v1' }]);
    const routes = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const expected = [
      'DELETE /admin/api-keys/{id}',
      'DELETE /auth/sessions',
      'DELETE /auth/sessions/{id}',
      'GET /',
      'GET /admin/api-keys',
      'GET /auth/sessions',
      'GET /me',
      'GET /openapi.json',
      'GET /users/{id}',
      'PATCH /me',
      'POST /admin/api-keys',
      'POST /admin/users',
      'POST /admin/users/{id}/deactivate',
      'POST /auth/login',
      'POST /auth/logout',
    ];
    for (const route of expected) assert.ok(routes.includes(route), `${route} is documented`);
    // The request schemas are the validation schemas: strict (no unknown fields), with limits.
    const patch = document.components.schemas.ProfilePatch;
    assert.equal(patch?.additionalProperties, false);
    assert.deepEqual(Object.keys(patch?.properties ?? {}).sort(), ['bio', 'displayName']);
    assert.ok(document.components.schemas.Problem);
    assert.deepEqual(document.paths['/admin/api-keys']?.post?.security, [{ sessionToken: [] }]);
    assert.deepEqual(document.paths['/auth/login']?.post?.security, []);
  });
});
