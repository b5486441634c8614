import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { callApi as call } from '../harness/api-client.js';
import { type Person, type PrivateApi, startPrivateApi } from '../harness/private-api.js';

// The warm read path. A warm GET /conversations/:id asks the cache Redis three things: the
// session, then membership and the conversation together (its rate limit is on the state
// Redis). Conditional requests: what clients re-read all the time (a conversation, its first page of
// history, the list, a profile) carries a weak ETag; sent back as If-None-Match it is a 304
// without a body while nothing changed, and a 200 with a new ETag as soon as anything did.
// The harness checks every answer, 304s included, against the OpenAPI document.

const names = ['ann', 'ben', 'cat'] as const;

describe('the read path: warm commands, conditional requests (ETag, If-None-Match, 304)', () => {
  let world: PrivateApi<(typeof names)[number]>;
  let ann: Person;
  let ben: Person;
  let cat: Person;

  before(async () => {
    world = await startPrivateApi({ names, label: 'conditional' });
    ({ ann, ben, cat } = world.people);
  });
  after(async () => {
    await world?.dispose();
  });

  const get = (who: Person, path: string, etag?: string) =>
    call(world.api.baseUrl, 'GET', path, {
      token: who.token,
      ...(etag ? { headers: { 'if-none-match': etag } } : {}),
    });

  /** A 200 with an ETag; the same request with it is a 304 with no body; returns the ETag. */
  const assertRevalidates = async (who: Person, path: string) => {
    const first = await get(who, path);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const etag = first.headers.get('etag') ?? '';
    assert.match(etag, /^W\/"[A-Za-z0-9_-]{22}"$/, `${path}: a weak ETag`);
    assert.equal(first.headers.get('cache-control'), 'private, no-cache');
    const again = await get(who, path, etag);
    assert.equal(again.status, 304, `${path} unchanged`);
    assert.deepEqual(again.body, {}, 'no body');
    assert.equal(again.headers.get('etag'), etag);
    return etag;
  };
  /** The resource changed: the old ETag gets a 200 and a new one. */
  const assertChanged = async (who: Person, path: string, etag: string) => {
    const reply = await get(who, path, etag);
    assert.equal(reply.status, 200, `${path} changed`);
    assert.notEqual(reply.headers.get('etag'), etag);
  };

  it('a warm GET /conversations/:id: two cache commands (the session, then membership and conversation in one MGET)', async () => {
    const id = await world.group(ann, [ben], 'Biology');
    const path = `/conversations/${id}`;
    assert.equal((await get(ann, path)).status, 200);
    assert.equal((await get(ann, path)).status, 200);
    const commands = async () => {
      const stats = await world.cacheAdmin.info('commandstats');
      const calls = (name: string) =>
        Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
      return { get: calls('get'), mget: calls('mget') };
    };
    const before = await commands();
    assert.equal((await get(ann, path)).status, 200);
    const after = await commands();
    assert.deepEqual(
      { get: after.get - before.get, mget: after.mget - before.mget },
      { get: 1, mget: 1 },
    );
  });

  it('a conversation, its first page, the list and unread counts: 304 until something changes', async () => {
    const id = await world.group(ann, [ben], 'Chemistry');
    const sent = await world.send(ben, id, 'first');
    const paths = [
      `/conversations/${id}`,
      `/conversations/${id}/messages`,
      '/conversations',
      '/me/unread',
    ];
    const etags = new Map<string, string>();
    for (const path of paths) etags.set(path, await assertRevalidates(ann, path));

    // A new message changes the page, the list and the counts; not the conversation itself.
    await world.send(ben, id, 'second');
    for (const path of paths.slice(1)) await assertChanged(ann, path, etags.get(path) ?? '');
    const conversation = `/conversations/${id}`;
    assert.equal((await get(ann, conversation, etags.get(conversation))).status, 304);

    // A member added changes the conversation; an edit changes the page though no seq moved.
    const page = await assertRevalidates(ann, `/conversations/${id}/messages`);
    const added = await call(world.api.baseUrl, 'POST', `/conversations/${id}/members`, {
      token: ann.token,
      body: { userId: cat.id, role: 'member' },
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    await assertChanged(ann, conversation, etags.get(conversation) ?? '');
    const edited = await call(world.api.baseUrl, 'PATCH', `/conversations/${id}/messages/${sent}`, {
      token: ben.token,
      body: { body: 'first, edited' },
    });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    await assertChanged(ann, `/conversations/${id}/messages`, page);
  });

  it("a profile: 304 while unchanged; another user's validator is not mine", async () => {
    const etag = await assertRevalidates(ann, `/users/${ben.id}`);
    const mine = await assertRevalidates(ann, '/me');
    assert.notEqual(mine, etag);
    assert.equal((await get(ann, '/me', etag)).status, 200);
  });
});
