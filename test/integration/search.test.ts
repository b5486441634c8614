import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import pg from 'pg';
import {
  type AccessRow,
  assertAccessTable,
  assertBareProblem,
  assertTableCoversTags,
} from '../harness/access-table.js';
import { callApi as call } from '../harness/api-client.js';
import { type Person, type PrivateApi, startPrivateApi } from '../harness/private-api.js';
import type { ServiceProcess } from '../harness/service-process.js';
import { waitFor } from '../harness/wait-for.js';

// Full-text message search against a real api process, PostgreSQL and a private Redis pair (private
// so that FLUSHALL and the cache counters concern this test alone): what is found, what never is
// (other people's conversations, deleted messages, what a per-user delete hid, conversations left),
// pagination, and the results cache and its invalidation.

interface SearchResultBody {
  conversationId: string;
  headline: string;
  message: { id: string; conversationId: string; body: string | null; createdAt: string };
}

const names = ['ann', 'ben', 'cat', 'dan', 'eve'] as const;
type Name = (typeof names)[number];

/** A word no other test sends: letters then hex digits, one token for the parser. */
const freshWord = (stem: string) => `${stem}${randomBytes(4).toString('hex')}`;

describe('message search', () => {
  let world: PrivateApi<Name>;
  let api: ServiceProcess;
  let cacheAdmin: Redis;
  let keyPrefix: string;
  const people = {} as Record<Name, Person>;

  before(async () => {
    world = await startPrivateApi({ names, label: 'search' });
    ({ api, keyPrefix, cacheAdmin } = world);
    Object.assign(people, world.people);
  });
  after(async () => {
    await world?.dispose();
  });

  const send = (who: Person, conversationId: string, body: string) =>
    world.send(who, conversationId, body);
  const direct = (who: Person, other: Person) => world.direct(who, other);
  const group = (owner: Person, members: Person[]) => world.group(owner, members, 'Search group');
  const searchRaw = (who: Person, query: Record<string, string | number>) =>
    call(api.baseUrl, 'GET', `/search?${new URLSearchParams(stringValues(query))}`, {
      token: who.token,
    });
  /** One page of results; asserts a 200. */
  const search = async (who: Person, query: Record<string, string | number>) => {
    const reply = await searchRaw(who, query);
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return {
      results: reply.body.results as SearchResultBody[],
      nextCursor: reply.body.nextCursor as string | undefined,
    };
  };
  /** The bodies found, newest first. */
  const bodiesFound = async (who: Person, query: Record<string, string | number>) =>
    (await search(who, query)).results.map((result) => result.message.body);
  /** cache_requests_total{cache="search",result} as the api's /metrics reports it. */
  const searchCacheCount = async (result: 'hit' | 'miss') => {
    const text = await (await fetch(`${api.baseUrl}/metrics`)).text();
    const line = new RegExp(
      `^cache_requests_total\\{cache="search",result="${result}"[^}]*\\} (\\d+)$`,
      'm',
    );
    return Number(line.exec(text)?.[1] ?? 0);
  };

  it('finds the words of my conversations in any case and language, with a safe excerpt', async () => {
    const { ann, ben } = people;
    const id = await direct(ann, ben);
    const word = freshWord('quartz');
    await send(ann, id, `Bring the ${word} sample to the lab`);
    await send(ben, id, `Is <b>${word.toUpperCase()}</b> & feldspar the same?`);
    await send(ben, id, 'Nothing to see here');
    await send(ann, id, `Nous partons à Москва ${word} demain; if a<b and c>d then ok`);

    const found = await search(ben, { q: word });
    assert.deepEqual(
      found.results.map((result) => result.message.body),
      [
        `Nous partons à Москва ${word} demain; if a<b and c>d then ok`,
        `Is <b>${word.toUpperCase()}</b> & feldspar the same?`,
        `Bring the ${word} sample to the lab`,
      ],
      'every message with the word, whatever its case, newest first',
    );
    assert.equal(found.nextCursor, undefined);
    for (const result of found.results) assert.equal(result.conversationId, id);
    // The excerpt is HTML: the text escaped, only the matches marked up.
    assert.equal(
      found.results[1]?.headline,
      `Is &lt;b&gt;<mark>${word.toUpperCase()}</mark>&lt;/b&gt; &amp; feldspar the same?`,
    );

    // Non-ASCII words are found in another case; "<" and ">" do not swallow the words between.
    assert.equal((await bodiesFound(ann, { q: `москва ${word}` })).length, 1);
    assert.equal((await bodiesFound(ann, { q: `"b and c" ${word}` })).length, 1);
    // Every word must be there; OR and -exclusion work as in a search box.
    assert.equal((await bodiesFound(ann, { q: `${word} feldspar` })).length, 1);
    assert.equal((await bodiesFound(ann, { q: `${word} -feldspar` })).length, 2);
    assert.equal((await bodiesFound(ann, { q: `${freshWord('none')} or ${word}` })).length, 3);
    // A query without any word finds nothing, and is not an error.
    assert.deepEqual(await bodiesFound(ann, { q: '!!! ??? ...' }), []);
  });

  it("never returns another conversation's message: not to a stranger, not to another member", async () => {
    const { ann, ben, cat, dan } = people;
    const annBen = await direct(ann, ben);
    const annCat = await direct(ann, cat);
    const danEve = await direct(dan, people.eve);
    const word = freshWord('secret');
    await send(ann, annBen, `ann to ben: ${word}`);
    await send(ann, annCat, `ann to cat: ${word}`);
    await send(dan, danEve, `dan to eve: ${word}`);

    assert.deepEqual(await bodiesFound(ann, { q: word }), [
      `ann to cat: ${word}`,
      `ann to ben: ${word}`,
    ]);
    assert.deepEqual(await bodiesFound(ben, { q: word }), [`ann to ben: ${word}`]);
    assert.deepEqual(await bodiesFound(cat, { q: word }), [`ann to cat: ${word}`]);
    // dan finds only his own conversation's message, even searched the moment after ann's.
    assert.deepEqual(await bodiesFound(dan, { q: word }), [`dan to eve: ${word}`]);

    // With a conversation filter: the stranger's answer is the 404 of a missing conversation.
    for (const conversationId of [annBen, crypto.randomUUID()]) {
      const reply = await searchRaw(dan, { q: word, conversationId });
      assertBareProblem(reply, 404, `dan filters on ${conversationId}`);
      assert.equal(reply.body.code, 'not_found');
    }
    // Members filter on their own conversation.
    assert.deepEqual(await bodiesFound(ann, { q: word, conversationId: annBen }), [
      `ann to ben: ${word}`,
    ]);
    assertBareProblem(
      await searchRaw(ben, { q: word, conversationId: annCat }),
      404,
      'ben filters on ann and cat',
    );
  });

  it('respects a per-user delete: what it hid is never found again by that user', async () => {
    const { ann, eve } = people;
    const id = await direct(ann, eve);
    const word = freshWord('homework');
    await send(ann, id, `before ${word}`);
    assert.deepEqual(await bodiesFound(eve, { q: word }), [`before ${word}`]);

    const deleted = await call(api.baseUrl, 'DELETE', `/conversations/${id}`, { token: eve.token });
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    assert.deepEqual(await bodiesFound(eve, { q: word }), [], 'right after a cached search');
    assert.deepEqual(await bodiesFound(ann, { q: word }), [`before ${word}`], 'ann unaffected');

    await send(ann, id, `after ${word}`);
    assert.deepEqual(await bodiesFound(eve, { q: word }), [`after ${word}`]);
    assert.deepEqual(await bodiesFound(eve, { q: word, conversationId: id }), [`after ${word}`]);
  });

  it('a conversation left or removed from is no longer searched, even right after a cached search', async () => {
    const { ann, ben, cat } = people;
    const id = await group(ann, [ben, cat]);
    const word = freshWord('rota');
    await send(ann, id, `duty ${word}`);
    for (const who of [ben, cat]) {
      assert.deepEqual(await bodiesFound(who, { q: word }), [`duty ${word}`]);
      assert.deepEqual(await bodiesFound(who, { q: word, conversationId: id }), [`duty ${word}`]);
    }
    // Cached now: the same search again is a hit.
    const hits = await searchCacheCount('hit');
    assert.deepEqual(await bodiesFound(cat, { q: word }), [`duty ${word}`]);
    assert.equal(await searchCacheCount('hit'), hits + 1);

    const removed = await call(api.baseUrl, 'DELETE', `/conversations/${id}/members/${cat.id}`, {
      token: ann.token,
    });
    assert.equal(removed.status, 204, JSON.stringify(removed.body));
    const left = await call(api.baseUrl, 'POST', `/conversations/${id}/leave`, {
      token: ben.token,
    });
    assert.equal(left.status, 204, JSON.stringify(left.body));
    for (const who of [ben, cat]) {
      assert.deepEqual(await bodiesFound(who, { q: word }), []);
      assertBareProblem(await searchRaw(who, { q: word, conversationId: id }), 404, 'gone');
    }
    assert.deepEqual(await bodiesFound(ann, { q: word }), [`duty ${word}`], 'ann still sees it');
  });

  it('a deleted message is gone and an edited one is found by its new words, at once', async () => {
    const { ann, ben } = people;
    const id = await direct(ann, ben);
    const oldWord = freshWord('draft');
    const newWord = freshWord('final');
    const toDelete = await send(ann, id, `delete me ${oldWord}`);
    const toEdit = await send(ann, id, `edit me ${oldWord}`);
    assert.equal((await bodiesFound(ben, { q: oldWord })).length, 2);
    assert.equal((await bodiesFound(ben, { q: oldWord })).length, 2, 'cached');

    const deleted = await call(api.baseUrl, 'DELETE', `/conversations/${id}/messages/${toDelete}`, {
      token: ann.token,
    });
    assert.equal(deleted.status, 204);
    assert.deepEqual(await bodiesFound(ben, { q: oldWord }), [`edit me ${oldWord}`]);
    assert.deepEqual(await bodiesFound(ben, { q: 'delete' }), [], 'no word of it is left');

    const edited = await call(api.baseUrl, 'PATCH', `/conversations/${id}/messages/${toEdit}`, {
      token: ann.token,
      body: { body: `edited to ${newWord}` },
    });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    assert.deepEqual(await bodiesFound(ben, { q: oldWord }), []);
    const found = await search(ben, { q: newWord });
    assert.deepEqual(
      found.results.map((result) => [result.message.id, result.message.body]),
      [[toEdit, `edited to ${newWord}`]],
    );
  });

  it('pages newest first with no duplicate and no gap, ties on created_at included', async () => {
    const { ann, ben, cat } = people;
    const one = await direct(ann, ben);
    const two = await group(ann, [ben, cat]);
    const word = freshWord('page');
    const sent: string[] = [];
    for (let index = 0; index < 9; index++) {
      sent.push(
        await send(index % 2 === 0 ? ann : ben, index % 3 === 0 ? two : one, `${word} ${index}`),
      );
    }
    // Five of them created in the same microsecond: only the id orders them.
    const db = new pg.Client({ connectionString: world.database.url });
    await db.connect();
    try {
      await db.query(
        `UPDATE messages SET created_at = '2026-01-02T03:04:05.123456Z' WHERE id = ANY($1::uuid[])`,
        [sent.slice(2, 7)],
      );
    } finally {
      await db.end();
    }

    const all = (await search(ben, { q: word, limit: 50 })).results.map((r) => r.message);
    assert.equal(all.length, 9);
    const paged: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await search(ben, { q: word, limit: 2, ...(cursor ? { cursor } : {}) });
      assert.ok(page.results.length <= 2);
      paged.push(...page.results.map((result) => result.message.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== undefined && pages < 10);
    assert.equal(pages, 5, 'four full pages and a last one, no empty page after it');
    assert.deepEqual(
      paged,
      all.map((message) => message.id),
      'same order as one page',
    );
    assert.equal(new Set(paged).size, 9, 'no duplicate');
    assert.deepEqual([...paged].sort(), [...sent].sort(), 'no gap');
    for (let index = 1; index < all.length; index++) {
      const [newer, older] = [all[index - 1], all[index]];
      assert.ok(newer && older && newer.createdAt >= older.createdAt, 'newest first');
    }
  });

  it('caches a repeated search, and a new message shows in the very next one', async () => {
    const { ann, ben, cat } = people;
    const id = await group(ann, [ben, cat]);
    const other = await direct(ben, cat);
    const word = freshWord('trip');
    await send(ann, id, `first ${word}`);

    assert.deepEqual(await bodiesFound(cat, { q: word }), [`first ${word}`]);
    let hits = await searchCacheCount('hit');
    assert.deepEqual(await bodiesFound(cat, { q: word }), [`first ${word}`]);
    assert.equal(await searchCacheCount('hit'), hits + 1, 'the repeat is a hit');
    assert.deepEqual(await bodiesFound(ann, { q: word }), [`first ${word}`]);

    // A message in one of cat's conversations, by someone else: cat's very next search sees it.
    await send(ben, id, `second ${word}`);
    hits = await searchCacheCount('hit');
    assert.deepEqual(await bodiesFound(cat, { q: word }), [`second ${word}`, `first ${word}`]);
    assert.equal(await searchCacheCount('hit'), hits, 'a miss, not a stale hit');
    // ...and every other member's too (ann searched before, the entry was cached).
    assert.deepEqual(await bodiesFound(ann, { q: word }), [`second ${word}`, `first ${word}`]);
    // A message in another of cat's conversations invalidates as well.
    await send(ben, other, `third ${word}`);
    assert.deepEqual(await bodiesFound(cat, { q: word }), [
      `third ${word}`,
      `second ${word}`,
      `first ${word}`,
    ]);
    // A later page is invalidated like the first.
    const first = await search(cat, { q: word, limit: 1 });
    assert.ok(first.nextCursor);
    const pageTwo = { q: word, limit: 1, cursor: first.nextCursor };
    assert.deepEqual(
      (await search(cat, pageTwo)).results.map((r) => r.message.body),
      [`second ${word}`],
    );
    const secondId = (await search(cat, pageTwo)).results[0]?.message.id;
    assert.ok(secondId);
    const deleted = await call(api.baseUrl, 'DELETE', `/conversations/${id}/messages/${secondId}`, {
      token: ben.token,
    });
    assert.equal(deleted.status, 204);
    assert.deepEqual(
      (await search(cat, pageTwo)).results.map((r) => r.message.body),
      [`first ${word}`],
    );
  });

  it('stays correct when the cache Redis is flushed or loses the generations', async () => {
    const { ann, ben } = people;
    const id = await direct(ann, ben);
    const word = freshWord('flush');
    await send(ann, id, `one ${word}`);
    assert.deepEqual(await bodiesFound(ben, { q: word }), [`one ${word}`]);
    assert.deepEqual(await bodiesFound(ben, { q: word }), [`one ${word}`], 'cached');

    assert.equal(await cacheAdmin.flushall(), 'OK');
    assert.deepEqual(await bodiesFound(ben, { q: word }), [`one ${word}`], 'rebuilt');
    await send(ann, id, `two ${word}`);
    assert.deepEqual(await bodiesFound(ben, { q: word }), [`two ${word}`, `one ${word}`]);

    // The generations alone lost (as LRU eviction could), the entries kept: a change made
    // after that must still show, and nothing stale may be served.
    assert.deepEqual(await bodiesFound(ben, { q: word }), [`two ${word}`, `one ${word}`]);
    const generations = await cacheAdmin.keys(`${keyPrefix}cache:search-generation:*`);
    assert.ok(generations.length > 0, 'generations live under the key prefix');
    assert.ok((await cacheAdmin.keys(`${keyPrefix}cache:search:*`)).length > 0, 'entries exist');
    await cacheAdmin.del(...generations);
    await send(ann, id, `three ${word}`);
    assert.deepEqual(await bodiesFound(ben, { q: word }), [
      `three ${word}`,
      `two ${word}`,
      `one ${word}`,
    ]);
    await cacheAdmin.del(...(await cacheAdmin.keys(`${keyPrefix}cache:search-generation:*`)));
    assert.deepEqual(await bodiesFound(ben, { q: word }), [
      `three ${word}`,
      `two ${word}`,
      `one ${word}`,
    ]);
  });

  it('with the cache Redis down, searches come from PostgreSQL and stay right after it returns', async () => {
    const { ann, ben } = people;
    const id = await direct(ann, ben);
    const word = freshWord('outage');
    await send(ann, id, `one ${word}`);
    assert.deepEqual(await bodiesFound(ben, { q: word }), [`one ${word}`]);

    await world.cache.stop();
    try {
      // This send's generation bump is lost: the cache cannot be told.
      await send(ann, id, `two ${word}`);
      assert.deepEqual(await bodiesFound(ben, { q: word }), [`two ${word}`, `one ${word}`]);
    } finally {
      await world.cache.restart();
    }
    await waitFor('the search cache in use again', async () => {
      const hits = await searchCacheCount('hit');
      await bodiesFound(ben, { q: word });
      await bodiesFound(ben, { q: word });
      return (await searchCacheCount('hit')) > hits;
    });
    assert.deepEqual(await bodiesFound(ben, { q: word }), [`two ${word}`, `one ${word}`]);
    await send(ann, id, `three ${word}`);
    assert.deepEqual(await bodiesFound(ben, { q: word }), [
      `three ${word}`,
      `two ${word}`,
      `one ${word}`,
    ]);
  });

  it('validates the query string', async () => {
    const { ann } = people;
    const invalid = async (query: string, field: string, code?: string) => {
      const reply = await call(api.baseUrl, 'GET', `/search?${query}`, { token: ann.token });
      assert.equal(reply.status, 400, `${query}: ${JSON.stringify(reply.body)}`);
      assert.equal(reply.body.code, 'validation_failed');
      const errors = reply.body.errors as Array<{ in: string; field: string; code: string }>;
      assert.ok(
        errors.some(
          (error) => error.field === field && (code === undefined || error.code === code),
        ),
        `${query}: ${JSON.stringify(errors)}`,
      );
    };
    await invalid('', 'q');
    await invalid('q=', 'q');
    await invalid('q=%20%20%20', 'q');
    await invalid(`q=${'a'.repeat(201)}`, 'q', 'too_big');
    await invalid('q=words&page=2', 'page', 'unknown_field');
    await invalid('q=words&limit=0', 'limit');
    await invalid('q=words&limit=51', 'limit');
    await invalid('q=words&conversationId=nope', 'conversationId');
    await invalid('q=words&cursor=bm90LWEtY3Vyc29y', 'cursor', 'invalid_cursor');
    // A history cursor is not a search cursor.
    await invalid(
      `q=words&cursor=${Buffer.from('v1:5').toString('base64url')}`,
      'cursor',
      'invalid_cursor',
    );
    // 200 characters (after trimming spaces) is the limit, not beyond it.
    const longest = await call(api.baseUrl, 'GET', `/search?q=%20${'a'.repeat(200)}%20`, {
      token: ann.token,
    });
    assert.equal(longest.status, 200, JSON.stringify(longest.body));
  });

  it('answers anonymous callers 401 and strangers filtering on a conversation 404, never data', async () => {
    const { ann, ben, dan } = people;
    const id = await group(ann, [ben]);
    const word = freshWord('private');
    await send(ann, id, `private ${word}`);
    type Who = 'anonymous' | 'badToken' | 'stranger';
    const credentials: Record<Who, { token?: string }> = {
      anonymous: {},
      badToken: { token: 'c'.repeat(43) },
      stranger: { token: dan.token },
    };
    const table: AccessRow<Who>[] = [
      {
        method: 'GET',
        path: `/search?q=${word}`,
        route: '/search',
        expect: { anonymous: 401, badToken: 401 },
      },
      {
        method: 'GET',
        path: `/search?q=${word}&conversationId=${id}`,
        route: '/search',
        expect: { anonymous: 401, badToken: 401, stranger: 404 },
      },
      // Before validation: a stranger learns nothing from a 400 about the rest of the query.
      {
        method: 'GET',
        path: `/search?q=&unknown=1&conversationId=${id}`,
        route: '/search',
        expect: { anonymous: 401, badToken: 401, stranger: 404 },
      },
      // An id that does not exist answers exactly as one the caller is not in.
      {
        method: 'GET',
        path: `/search?q=${word}&conversationId=${crypto.randomUUID()}`,
        route: '/search',
        expect: { anonymous: 401, badToken: 401, stranger: 404 },
      },
    ];
    await assertAccessTable(api.baseUrl, table, credentials);
    await assertTableCoversTags(api.baseUrl, table, ['search']);
    // Without a filter the stranger simply finds nothing.
    assert.deepEqual(await bodiesFound(dan, { q: word }), []);
  });
});

function stringValues(query: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(query).map(([key, value]) => [key, String(value)]));
}
