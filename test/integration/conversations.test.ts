import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import {
  type AccessRow,
  assertAccessTable,
  assertTableCoversTags,
} from '../harness/access-table.js';
import { callApi as call, createAccount, loginAs } from '../harness/api-client.js';
import type { Person } from '../harness/private-api.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import { createTestDatabase, serviceEnvironment, uniqueName } from '../harness/test-environment.js';

// Conversations (direct and group), members, per-user delete, and the authorization of every
// conversation and message route, against a real api process, PostgreSQL and Redis.

interface ConversationBody {
  id: string;
  kind: string;
  members: Array<{ userId: string; role: string }>;
}

describe('conversations: direct and group, members, per-user delete, authorization', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let api: ServiceProcess;
  const people: Record<'ann' | 'ben' | 'cat' | 'dan' | 'eve', Person> = {
    ann: { id: '', token: '' },
    ben: { id: '', token: '' },
    cat: { id: '', token: '' },
    dan: { id: '', token: '' },
    eve: { id: '', token: '' },
  };

  const send = (who: Person, conversationId: string, body: string) =>
    call(api.baseUrl, 'POST', `/conversations/${conversationId}/messages`, {
      token: who.token,
      body: { body, idempotencyKey: crypto.randomUUID() },
    });

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    for (const name of Object.keys(people) as Array<keyof typeof people>) {
      people[name].id = (await createAccount(database.url, name)).id;
    }
    api = await startService('api', {
      ...serviceEnvironment('api', database.url),
      REDIS_KEY_PREFIX: `quad:${uniqueName('conv')}:`,
      RATE_LIMITS: JSON.stringify({
        'login-ip': { limit: 1_000, windowMs: 60_000 },
        'login-account': { limit: 1_000, windowMs: 60_000 },
      }),
    });
    for (const [name, person] of Object.entries(people)) {
      person.token = (await loginAs(api.baseUrl, name)).token;
    }
  });
  after(async () => {
    await api?.stop();
    await database?.drop();
  });

  it('a direct conversation exists once per pair, even when both create it at once', async () => {
    const { ann, ben } = people;
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        index % 2 === 0
          ? call(api.baseUrl, 'POST', '/conversations', {
              token: ann.token,
              body: { kind: 'direct', userId: ben.id },
            })
          : call(api.baseUrl, 'POST', '/conversations', {
              token: ben.token,
              body: { kind: 'direct', userId: ann.id },
            }),
      ),
    );
    for (const reply of replies) assert.equal(reply.status, 201, JSON.stringify(reply.body));
    const ids = new Set(replies.map((reply) => reply.body.id));
    assert.equal(ids.size, 1, 'every create returned the same conversation');
    const conversation = replies[0]?.body as unknown as ConversationBody;
    assert.equal(conversation.kind, 'direct');
    assert.deepEqual(
      conversation.members.map((member) => member.userId).sort(),
      [ann.id, ben.id].sort(),
    );

    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const rows = await db.query(
        "SELECT count(*)::int AS n FROM conversations WHERE kind = 'direct'",
      );
      assert.equal(rows.rows[0].n, 1);
    } finally {
      await db.end();
    }
    const self = await call(api.baseUrl, 'POST', '/conversations', {
      token: ann.token,
      body: { kind: 'direct', userId: ann.id },
    });
    assert.equal(self.status, 409);
  });

  it('groups: owner and admins manage members; members do not; leaving hands over ownership', async () => {
    const { ann, ben, cat, dan } = people;
    const created = await call(api.baseUrl, 'POST', '/conversations', {
      token: ann.token,
      body: { kind: 'group', title: 'Year 9 Physics', memberIds: [ben.id] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = String(created.body.id);
    const roles = (body: Record<string, unknown>) =>
      Object.fromEntries(
        (body as unknown as ConversationBody).members.map((member) => [member.userId, member.role]),
      );
    assert.deepEqual(roles(created.body), { [ann.id]: 'owner', [ben.id]: 'member' });

    // A plain member cannot add; the owner can, and makes admins.
    const byMember = await call(api.baseUrl, 'POST', `/conversations/${id}/members`, {
      token: ben.token,
      body: { userId: cat.id },
    });
    assert.equal(byMember.status, 403);
    const adminAdded = await call(api.baseUrl, 'POST', `/conversations/${id}/members`, {
      token: ann.token,
      body: { userId: cat.id, role: 'admin' },
    });
    assert.equal(adminAdded.status, 200, JSON.stringify(adminAdded.body));
    // Dan probed before being added: the cached "not a member" must not outlive the add.
    assert.equal(
      (await call(api.baseUrl, 'GET', `/conversations/${id}`, { token: dan.token })).status,
      404,
    );
    const byAdmin = await call(api.baseUrl, 'POST', `/conversations/${id}/members`, {
      token: cat.token,
      body: { userId: dan.id },
    });
    assert.equal(byAdmin.status, 200);
    assert.equal(
      (await call(api.baseUrl, 'GET', `/conversations/${id}`, { token: dan.token })).status,
      200,
    );
    const twice = await call(api.baseUrl, 'POST', `/conversations/${id}/members`, {
      token: cat.token,
      body: { userId: dan.id },
    });
    assert.equal(twice.status, 409);

    // An admin removes plain members, not the owner; the removed member loses access at once.
    assert.equal(
      (
        await call(api.baseUrl, 'DELETE', `/conversations/${id}/members/${ann.id}`, {
          token: cat.token,
        })
      ).status,
      403,
    );
    assert.equal(
      (
        await call(api.baseUrl, 'DELETE', `/conversations/${id}/members/${dan.id}`, {
          token: cat.token,
        })
      ).status,
      204,
    );
    assert.equal(
      (await call(api.baseUrl, 'GET', `/conversations/${id}`, { token: dan.token })).status,
      404,
    );
    assert.equal((await send(dan, id, 'still here?')).status, 404);

    // The owner leaves: the admin becomes owner.
    assert.equal(
      (await call(api.baseUrl, 'POST', `/conversations/${id}/leave`, { token: ann.token })).status,
      204,
    );
    const after = await call(api.baseUrl, 'GET', `/conversations/${id}`, { token: cat.token });
    assert.deepEqual(roles(after.body), { [ben.id]: 'member', [cat.id]: 'owner' });
    assert.equal(
      (await call(api.baseUrl, 'GET', `/conversations/${id}`, { token: ann.token })).status,
      404,
    );

    // Direct conversations have no member management and are not left.
    const direct = await call(api.baseUrl, 'POST', '/conversations', {
      token: cat.token,
      body: { kind: 'direct', userId: dan.id },
    });
    const directId = String(direct.body.id);
    assert.equal(
      (
        await call(api.baseUrl, 'POST', `/conversations/${directId}/members`, {
          token: cat.token,
          body: { userId: ann.id },
        })
      ).status,
      409,
    );
    assert.equal(
      (await call(api.baseUrl, 'POST', `/conversations/${directId}/leave`, { token: cat.token }))
        .status,
      409,
    );
  });

  it('list mine: most recent first, with a preview of the latest message', async () => {
    const { eve, ben } = people;
    const first = await call(api.baseUrl, 'POST', '/conversations', {
      token: eve.token,
      body: { kind: 'group', title: 'Choir', memberIds: [] },
    });
    const second = await call(api.baseUrl, 'POST', '/conversations', {
      token: eve.token,
      body: { kind: 'direct', userId: ben.id },
    });
    assert.equal((await send(eve, String(second.body.id), 'hello ben')).status, 201);
    assert.equal((await send(eve, String(first.body.id), 'x'.repeat(1_000))).status, 201);

    const list = await call(api.baseUrl, 'GET', '/conversations', { token: eve.token });
    assert.equal(list.status, 200);
    const items = list.body.conversations as Array<{
      id: string;
      lastMessage: { body: string } | null;
      unreadCount: number;
    }>;
    assert.deepEqual(
      items.map((item) => item.id),
      [first.body.id, second.body.id],
    );
    assert.equal(items[0]?.lastMessage?.body, 'x'.repeat(140), 'the preview is cut');
    assert.equal(items[1]?.lastMessage?.body, 'hello ben');
    // Both messages are eve's own: never unread for her (receipts.test.ts covers the rest).
    assert.deepEqual(
      items.map((item) => item.unreadCount),
      [0, 0],
    );
  });

  it('per-user delete hides the conversation until a newer message, then only newer messages show', async () => {
    const { cat, eve } = people;
    const created = await call(api.baseUrl, 'POST', '/conversations', {
      token: cat.token,
      body: { kind: 'direct', userId: eve.id },
    });
    const id = String(created.body.id);
    for (const text of ['one', 'two', 'three'])
      assert.equal((await send(cat, id, text)).status, 201);
    const bodies = async (who: Person) =>
      (
        (await call(api.baseUrl, 'GET', `/conversations/${id}/messages`, { token: who.token })).body
          .messages as Array<{ body: string }>
      ).map((message) => message.body);
    const listed = async (who: Person) =>
      (
        (await call(api.baseUrl, 'GET', '/conversations', { token: who.token })).body
          .conversations as Array<{ id: string }>
      ).some((item) => item.id === id);

    assert.deepEqual(await bodies(eve), ['three', 'two', 'one']);
    assert.equal(
      (await call(api.baseUrl, 'DELETE', `/conversations/${id}`, { token: eve.token })).status,
      204,
    );
    assert.equal(await listed(eve), false, 'hidden from eve');
    assert.equal(await listed(cat), true, 'cat is not affected');
    assert.deepEqual(await bodies(eve), [], 'eve sees nothing before her deletion');
    assert.deepEqual(await bodies(cat), ['three', 'two', 'one']);

    assert.equal((await send(cat, id, 'four')).status, 201);
    assert.equal(await listed(eve), true, 'back with the new message');
    assert.deepEqual(await bodies(eve), ['four']);
    assert.deepEqual(await bodies(cat), ['four', 'three', 'two', 'one']);
    // Eve cannot reach an older message by id either.
    const older = (
      await call(api.baseUrl, 'GET', `/conversations/${id}/messages`, { token: cat.token })
    ).body.messages as Array<{ id: string; body: string }>;
    const three = older.find((message) => message.body === 'three');
    assert.equal(
      (
        await call(api.baseUrl, 'DELETE', `/conversations/${id}/messages/${three?.id}`, {
          token: eve.token,
        })
      ).status,
      404,
    );
  });

  it('every route, called by a stranger or anonymously, gets 404/401 and never data', async () => {
    const { ann, ben, dan } = people;
    // A conversation with a message, and a stranger (dan) who is in neither.
    const group = await call(api.baseUrl, 'POST', '/conversations', {
      token: ann.token,
      body: { kind: 'group', title: 'Staff room', memberIds: [ben.id] },
    });
    const id = String(group.body.id);
    const sent = await send(ann, id, 'private words');
    const messageId = String(sent.body.id);
    const nobody = crypto.randomUUID();

    type Who = 'anonymous' | 'badToken' | 'stranger';
    const credentials: Record<Who, { token?: string }> = {
      anonymous: {},
      badToken: { token: 'c'.repeat(43) },
      stranger: { token: dan.token },
    };
    const denied = { anonymous: 401, badToken: 401, stranger: 404 };
    const table: AccessRow<Who>[] = [
      {
        method: 'POST',
        path: '/conversations',
        route: '/conversations',
        expect: { anonymous: 401, badToken: 401 },
      },
      {
        method: 'GET',
        path: '/conversations',
        route: '/conversations',
        expect: { anonymous: 401, badToken: 401 },
      },
      { method: 'GET', path: `/conversations/${id}`, route: '/conversations/{id}', expect: denied },
      {
        method: 'DELETE',
        path: `/conversations/${id}`,
        route: '/conversations/{id}',
        expect: denied,
      },
      {
        method: 'POST',
        path: `/conversations/${id}/members`,
        route: '/conversations/{id}/members',
        expect: denied,
      },
      {
        method: 'DELETE',
        path: `/conversations/${id}/members/${ben.id}`,
        route: '/conversations/{id}/members/{userId}',
        expect: denied,
      },
      {
        method: 'POST',
        path: `/conversations/${id}/leave`,
        route: '/conversations/{id}/leave',
        expect: denied,
      },
      {
        method: 'POST',
        path: `/conversations/${id}/messages`,
        route: '/conversations/{id}/messages',
        expect: denied,
      },
      {
        method: 'GET',
        path: `/conversations/${id}/messages`,
        route: '/conversations/{id}/messages',
        expect: denied,
      },
      {
        method: 'PATCH',
        path: `/conversations/${id}/messages/${messageId}`,
        route: '/conversations/{id}/messages/{messageId}',
        expect: denied,
      },
      {
        method: 'DELETE',
        path: `/conversations/${id}/messages/${messageId}`,
        route: '/conversations/{id}/messages/{messageId}',
        expect: denied,
      },
      {
        method: 'POST',
        path: `/conversations/${id}/read`,
        route: '/conversations/{id}/read',
        expect: denied,
      },
      {
        method: 'GET',
        path: `/conversations/${id}/receipts`,
        route: '/conversations/{id}/receipts',
        expect: denied,
      },
      // A stranger's own unread counts simply do not include this conversation.
      {
        method: 'GET',
        path: '/me/unread',
        route: '/me/unread',
        expect: { anonymous: 401, badToken: 401 },
      },
      // An id that does not exist answers exactly as one the caller is not in.
      {
        method: 'GET',
        path: `/conversations/${nobody}`,
        route: '/conversations/{id}',
        expect: denied,
      },
    ];

    await assertAccessTable(api.baseUrl, table, credentials);

    // Nothing changed: the message is intact, ben is still a member, dan got nothing.
    const history = await call(api.baseUrl, 'GET', `/conversations/${id}/messages`, {
      token: ann.token,
    });
    assert.deepEqual(
      (history.body.messages as Array<{ body: string }>).map((message) => message.body),
      ['private words'],
    );
    const conversation = await call(api.baseUrl, 'GET', `/conversations/${id}`, {
      token: ben.token,
    });
    assert.equal(conversation.status, 200);

    // The table covers every route of this capability as the OpenAPI document lists them.
    await assertTableCoversTags(api.baseUrl, table, ['conversations', 'messages']);
  });
});
