import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { callApi as call } from '../harness/api-client.js';
import { type Person, type PrivateApi, startPrivateApi } from '../harness/private-api.js';
import { commandCalls } from '../harness/redis-admin.js';
import type { ServiceProcess } from '../harness/service-process.js';

// Read receipts and unread counts, against a real api process, PostgreSQL and a private Redis pair
// (private so that the cache Redis' command statistics and FLUSHALL concern this test alone).

interface Receipt {
  userId: string;
  lastReadMessageId: string | null;
  lastReadSeq: number;
  readAt: string | null;
}

const names = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay'] as const;
type Name = (typeof names)[number];

describe('read receipts and unread counts', () => {
  let world: PrivateApi<Name>;
  let api: ServiceProcess;
  let cacheClient: Redis;
  let keyPrefix: string;
  const people = {} as Record<Name, Person>;

  before(async () => {
    world = await startPrivateApi({ names, label: 'receipts' });
    ({ api, keyPrefix, cacheAdmin: cacheClient } = world);
    Object.assign(people, world.people);
  });
  after(async () => {
    await world?.dispose();
  });

  const send = (who: Person, conversationId: string, body: string) =>
    world.send(who, conversationId, body);
  const direct = (who: Person, other: Person) => world.direct(who, other);
  const markRead = (who: Person, conversationId: string, upToMessageId: string) =>
    call(api.baseUrl, 'POST', `/conversations/${conversationId}/read`, {
      token: who.token,
      body: { upToMessageId },
    });
  /** My unread counts by conversation, from GET /me/unread. */
  const unreadOf = async (who: Person) => {
    const reply = await call(api.baseUrl, 'GET', '/me/unread', { token: who.token });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const list = reply.body.conversations as Array<{ conversationId: string; unreadCount: number }>;
    return new Map(list.map((entry) => [entry.conversationId, entry.unreadCount]));
  };
  /** My unread counts by conversation, from the conversation list. */
  const listedUnreadOf = async (who: Person) => {
    const reply = await call(api.baseUrl, 'GET', '/conversations', { token: who.token });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    const list = reply.body.conversations as Array<{ id: string; unreadCount: number }>;
    return new Map(list.map((entry) => [entry.id, entry.unreadCount]));
  };
  /** Reads the cache Redis has answered so far: multi-key and single-key. */
  const readCalls = async () => ({
    mget: (await commandCalls(cacheClient, 'mget')).calls,
    get: (await commandCalls(cacheClient, 'get')).calls,
  });
  /** The reads a warm call made: the session's GET, one MGET for the user's counters and their
   *  bases (one slot), one for the conversations' heads (a few shards), and no GET per
   *  conversation. */
  const assertTwoMgets = async (call: () => Promise<void>, label: string) => {
    const before = await readCalls();
    await call();
    const after = await readCalls();
    assert.deepEqual(
      { mget: after.mget - before.mget, get: after.get - before.get },
      { mget: 2, get: 1 },
      label,
    );
  };

  it('counts messages by others, not my own; mark-read resets; receipts only move forward', async () => {
    const { ann, ben } = people;
    const id = await direct(ann, ben);
    const first = await send(ben, id, 'one');
    await send(ben, id, 'two');
    const third = await send(ben, id, 'three');
    await send(ann, id, 'my own');
    assert.equal((await unreadOf(ann)).get(id), 3);
    assert.equal((await listedUnreadOf(ann)).get(id), 3);
    assert.equal((await unreadOf(ben)).get(id), 1, "ann's message is unread for ben");

    const upToThird = await markRead(ann, id, third);
    assert.equal(upToThird.status, 200, JSON.stringify(upToThird.body));
    assert.equal(upToThird.body.lastReadMessageId, third);
    assert.equal(upToThird.body.lastReadSeq, 3);
    assert.equal((await unreadOf(ann)).get(id), 0);
    assert.equal((await listedUnreadOf(ann)).get(id), 0);

    // An older message does not move the receipt back.
    const backwards = await markRead(ann, id, first);
    assert.equal(backwards.status, 200);
    assert.equal(backwards.body.lastReadMessageId, third);
    assert.equal(backwards.body.lastReadSeq, 3);
    assert.equal((await unreadOf(ann)).get(id), 0);

    await send(ben, id, 'four');
    assert.equal((await unreadOf(ann)).get(id), 1, 'a new message after the receipt');

    const receipts = await call(api.baseUrl, 'GET', `/conversations/${id}/receipts`, {
      token: ben.token,
    });
    assert.equal(receipts.status, 200, JSON.stringify(receipts.body));
    const byUser = new Map(
      (receipts.body.receipts as Receipt[]).map((receipt) => [receipt.userId, receipt]),
    );
    assert.equal(byUser.get(ann.id)?.lastReadMessageId, third);
    assert.equal(byUser.get(ann.id)?.lastReadSeq, 3);
    assert.ok(byUser.get(ann.id)?.readAt);
    assert.deepEqual(byUser.get(ben.id), {
      userId: ben.id,
      lastReadMessageId: null,
      lastReadSeq: 0,
      readAt: null,
    });
  });

  it('a message of another conversation, or one I cannot name, is 404; a bad body is 400', async () => {
    const { ann, ben, cat } = people;
    const mine = await direct(ann, cat);
    const theirs = await direct(ben, cat);
    const elsewhere = await send(cat, theirs, 'not for ann');
    assertStatus(await markRead(ann, mine, elsewhere), 404);
    assertStatus(await markRead(ann, mine, crypto.randomUUID()), 404);
    const invalid = await call(api.baseUrl, 'POST', `/conversations/${mine}/read`, {
      token: ann.token,
      body: { upToMessageId: 'nope', extra: 1 },
    });
    assertStatus(invalid, 400);
  });

  it('a soft-deleted message is no longer unread', async () => {
    const { dan, eve } = people;
    const id = await direct(dan, eve);
    await send(eve, id, 'kept');
    const gone = await send(eve, id, 'regretted');
    assert.equal((await unreadOf(dan)).get(id), 2);
    const deleted = await call(api.baseUrl, 'DELETE', `/conversations/${id}/messages/${gone}`, {
      token: eve.token,
    });
    assert.equal(deleted.status, 204);
    assert.equal((await unreadOf(dan)).get(id), 1);
  });

  it('deleted for me: hidden from my counts, then only messages after the deletion count', async () => {
    const { dan, fay } = people;
    const id = await direct(dan, fay);
    await send(fay, id, 'before 1');
    const hidden = await send(fay, id, 'before 2');
    assert.equal((await unreadOf(dan)).get(id), 2);
    const deleted = await call(api.baseUrl, 'DELETE', `/conversations/${id}`, { token: dan.token });
    assert.equal(deleted.status, 204);
    assert.equal((await unreadOf(dan)).has(id), false, 'left out while hidden');
    // What the delete hid cannot be marked read either: dan cannot see it.
    assertStatus(await markRead(dan, id, hidden), 404);

    await send(fay, id, 'after');
    assert.equal((await unreadOf(dan)).get(id), 1, 'only the message after the deletion');
    assert.equal((await listedUnreadOf(dan)).get(id), 1);
  });

  it('removed and added again: a fresh receipt, not the counter of the earlier membership', async () => {
    const { ann, cat } = people;
    const group = await call(api.baseUrl, 'POST', '/conversations', {
      token: ann.token,
      body: { kind: 'group', title: 'Book club', memberIds: [cat.id] },
    });
    const id = String(group.body.id);
    const seen = await send(ann, id, 'chapter one');
    assert.equal((await markRead(cat, id, seen)).status, 200);
    assert.equal((await unreadOf(cat)).get(id), 0, 'counter cached at 0');
    const removed = await call(api.baseUrl, 'DELETE', `/conversations/${id}/members/${cat.id}`, {
      token: ann.token,
    });
    assert.equal(removed.status, 204);
    await send(ann, id, 'chapter two');
    const added = await call(api.baseUrl, 'POST', `/conversations/${id}/members`, {
      token: ann.token,
      body: { userId: cat.id },
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal((await unreadOf(cat)).get(id), 2, 'everything by others since the fresh receipt');
  });

  it('55 conversations: all counts in two MGETs, counters in one slot, and correct after FLUSHALL', async () => {
    const { eve, fay } = people;
    const ids: string[] = [];
    for (let index = 0; index < 55; index++) {
      const group = await call(api.baseUrl, 'POST', '/conversations', {
        token: fay.token,
        body: { kind: 'group', title: `Class ${index}`, memberIds: [eve.id] },
      });
      assert.equal(group.status, 201, JSON.stringify(group.body));
      const id = String(group.body.id);
      ids.push(id);
      // index % 3 + 1 messages by fay, so the counts differ between conversations.
      for (let message = 0; message <= index % 3; message++) await send(fay, id, `m${message}`);
    }
    const expected = new Map(ids.map((id, index) => [id, (index % 3) + 1]));
    const pick = (counts: Map<string, number>) => new Map(ids.map((id) => [id, counts.get(id)]));

    // Cold: recomputed from PostgreSQL (counts computed just now need no head). The next read
    // fills the heads; from then on a read is two MGETs and nothing else.
    assert.deepEqual(pick(await unreadOf(eve)), expected);
    assert.deepEqual(pick(await unreadOf(eve)), expected);
    await assertTwoMgets(async () => {
      assert.deepEqual(pick(await unreadOf(eve)), expected);
    }, 'counters and heads of 55 conversations: two MGETs sent together');
    await assertTwoMgets(async () => {
      assert.deepEqual(pick(await listedUnreadOf(eve)), expected);
    }, 'the list reads them the same way');

    // Every counter of eve carries one hash tag (the first {…} of the key), hence one slot.
    const keys = await cacheClient.keys(`${keyPrefix}cache:unread-counts:*`);
    const tag = `{user:${eve.id}}`;
    const eveKeys = keys.filter((key) => key.slice(key.indexOf('{')).startsWith(tag));
    assert.ok(eveKeys.length >= 55, `eve's counters: ${eveKeys.length} of ${keys.length}`);
    // One entry per conversation, JSON an operator reads: the count and what it was computed on.
    const firstEntry = await cacheClient.get(`${keyPrefix}cache:unread-counts:${tag}:${ids[0]}`);
    assert.deepEqual(JSON.parse(firstEntry ?? 'null'), { count: 1, throughSeq: 1, version: 0 });

    // FLUSHALL in the middle of activity: counts come back from PostgreSQL, and stay right.
    assert.equal(await cacheClient.flushall(), 'OK');
    assert.deepEqual(pick(await unreadOf(eve)), expected);
    const firstId = ids[0] ?? '';
    const latest = await send(fay, firstId, 'after the flush');
    expected.set(firstId, (expected.get(firstId) ?? 0) + 1);
    assert.deepEqual(pick(await listedUnreadOf(eve)), expected);
    assert.equal((await markRead(eve, firstId, latest)).status, 200);
    expected.set(firstId, 0);
    assert.equal(await cacheClient.flushall(), 'OK');
    assert.deepEqual(pick(await unreadOf(eve)), expected);
    assert.deepEqual(pick(await unreadOf(eve)), expected, 'and again from the rebuilt counters');
  });
});

function assertStatus(reply: { status: number; body: unknown }, status: number) {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
}
