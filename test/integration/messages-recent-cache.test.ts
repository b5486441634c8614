import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import type { Message } from '../../lib/conversations/index.js';
import { RecentMessagesStore } from '../../lib/conversations/index.js';
import { createLogger } from '../../lib/observability/logger.js';
import { sharedServers, uniqueName } from '../harness/test-environment.js';

// The recent-messages sorted set against a real Redis: the races between a reader filling it
// from PostgreSQL and writers appending or invalidating, trimming to 100, and falling back to
// the loader when Redis cannot answer. The loader stands in for PostgreSQL.

function message(conversationId: string, seq: number, body = `m${seq}`): Message {
  return {
    id: crypto.randomUUID(),
    conversationId,
    seq,
    senderId: '00000000-0000-4000-8000-000000000001',
    body,
    createdAt: new Date(1_800_000_000_000 + seq).toISOString(),
    editedAt: null,
    deletedAt: null,
  };
}

/** A loader whose answer the test releases, to hold a fill open while writers act. */
function heldLoader(rows: Message[]) {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started: () => void = () => {};
  const startedPromise = new Promise<void>((resolve) => {
    started = resolve;
  });
  return {
    load: async () => {
      started();
      await released;
      return rows;
    },
    started: startedPromise,
    release,
  };
}

describe('recent messages cache: fills, appends, invalidation, trimming, fallback', () => {
  const servers = sharedServers();
  const redis = new Redis({
    port: servers.redisCache.port,
    password: servers.redisCache.passwords.default,
    lazyConnect: true,
  });
  const store = new RecentMessagesStore({
    redis,
    keyPrefix: `quad:${uniqueName('recent')}:`,
    registry: new Registry(),
    logger: createLogger('test', 'silent'),
  });
  let loads = 0;
  const counting = (rows: Message[]) => async () => {
    loads++;
    return rows;
  };

  before(() => redis.connect());
  after(() => redis.disconnect());

  it('a warm set answers without the loader; a send is appended to it', async () => {
    const id = crypto.randomUUID();
    const stored = [message(id, 2), message(id, 1)];
    loads = 0;
    assert.deepEqual(await store.latest(id, counting(stored)), stored);
    assert.deepEqual(await store.latest(id, counting(stored)), stored);
    assert.equal(loads, 1, 'the second read is a hit');
    const third = message(id, 3);
    await store.append(third);
    assert.deepEqual(await store.latest(id, counting([])), [third, ...stored]);
    assert.equal(loads, 1);
  });

  it('a send during a fill drops the fill, so the message is never missing', async () => {
    const id = crypto.randomUUID();
    const old = [message(id, 1)];
    const held = heldLoader(old);
    const reading = store.latest(id, held.load);
    await held.started;
    await store.append(message(id, 2));
    held.release();
    assert.deepEqual(await reading, old, 'the reader itself answers what it loaded');
    const fresh = [message(id, 2), message(id, 1)];
    loads = 0;
    assert.deepEqual(await store.latest(id, counting(fresh)), fresh);
    assert.equal(loads, 1, 'reloaded: the stale fill was not stored');
  });

  it('an edit during a fill drops the fill, so the old text never comes back', async () => {
    const id = crypto.randomUUID();
    const held = heldLoader([message(id, 1, 'before')]);
    const reading = store.latest(id, held.load);
    await held.started;
    await store.invalidate(id);
    held.release();
    await reading;
    const edited = [message(id, 1, 'after')];
    assert.deepEqual(await store.latest(id, counting(edited)), edited);
  });

  it('a send into a cold cache leaves it cold rather than incomplete', async () => {
    const id = crypto.randomUUID();
    await store.append(message(id, 7));
    const all = Array.from({ length: 7 }, (_, index) => message(id, 7 - index));
    assert.deepEqual(await store.latest(id, counting(all)), all);
  });

  it('keeps the newest 100, in one step with each append', async () => {
    const id = crypto.randomUUID();
    const hundred = Array.from({ length: 100 }, (_, index) => message(id, 100 - index));
    await store.latest(id, counting(hundred));
    for (let seq = 101; seq <= 105; seq++) await store.append(message(id, seq));
    const cached = await store.latest(id, counting([]));
    assert.equal(cached.length, 100);
    assert.equal(cached[0]?.seq, 105);
    assert.equal(cached.at(-1)?.seq, 6);
    assert.equal(await redis.zcard(store.key(id)), 101, '100 messages and the marker');
    assert.ok((await redis.pttl(store.key(id))) > 0, 'every set expires');
  });

  it('answers from the loader when Redis cannot', async () => {
    const offline = new Redis({ port: servers.redisCache.port, lazyConnect: true });
    const fallback = new RecentMessagesStore({
      redis: offline,
      keyPrefix: `quad:${uniqueName('recent-off')}:`,
      registry: new Registry(),
      logger: createLogger('test', 'silent'),
    });
    const id = crypto.randomUUID();
    const rows = [message(id, 1)];
    assert.deepEqual(await fallback.latest(id, counting(rows)), rows);
    await fallback.append(message(id, 2));
    await fallback.invalidate(id);
    offline.disconnect();
  });
});
