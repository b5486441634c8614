import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { type CachePolicies, defaultCachePolicies } from '../../lib/cache/cache.policies.js';
import { CacheAside, type CacheCodec } from '../../lib/cache/cache-aside.js';
import {
  closeRedisClient,
  createRedisClient,
  type RedisClient,
} from '../../lib/redis/redis-client.js';
import { recordCommands } from '../harness/command-recorder.js';
import { registryValue } from '../harness/service-metrics.js';
import { sharedServers, uniqueName } from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

/** A promise and its resolve function, to hold a load() exactly where a test wants it. */
function gate<T = void>() {
  let open: (value: T) => void = () => {};
  const opened = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** 0 for a counter these tests have not made count yet. */
const metricValue = async (registry: Registry, name: string, labels: Record<string, string>) =>
  (await registryValue(registry, name, labels)) ?? 0;

interface Conversation {
  id: string;
  title: string;
}

/** How a reader's lease looks in Redis (lib/cache/cache-aside.ts). */
const LEASE = '\u0000lease:';

// Cache-aside against the shared cache Redis, connected as the `api` ACL user through the
// production client options (role `command`), so every test also proves the ACL grants what
// the cache runs (GET, MGET, SET NX GET, DEL, EVALSHA/EVAL) under the key prefix.
describe('cache-aside against real Redis (ACL user api)', () => {
  const servers = sharedServers();
  const port = servers.redisCache.port;
  const keyPrefix = `quad:${uniqueName('cache')}:`;
  const logger = pino({ level: 'silent' });
  let redis: RedisClient;
  let admin: Redis;
  let recorder: ReturnType<typeof recordCommands>;

  const cacheWith = (
    overrides: Partial<CachePolicies> = {},
    options: { enabled?: boolean; registry?: Registry; client?: RedisClient } = {},
  ) => {
    const registry = options.registry ?? new Registry();
    const cache = new CacheAside({
      redis: options.client ?? redis,
      keyPrefix,
      registry,
      logger,
      policies: { ...defaultCachePolicies, ...overrides },
      ...(options.enabled === undefined ? {} : { enabled: options.enabled }),
    });
    return { cache, registry };
  };

  const connectApi = (name: string) =>
    createRedisClient(
      {
        host: '127.0.0.1',
        port,
        username: 'api',
        password: servers.redisCache.passwords.api,
        db: 0,
        tls: false,
        display: `redis://api@127.0.0.1:${port}/0`,
      },
      'command',
      name,
      logger,
    );

  before(async () => {
    redis = connectApi('cache-test');
    admin = new Redis({ port, password: servers.redisCache.passwords.default });
    await waitFor('redis ready', async () => redis.status === 'ready' && admin.status === 'ready');
    recorder = recordCommands(port);
  });
  after(async () => {
    recorder.stop();
    const keys = await admin.keys(`${keyPrefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    await closeRedisClient(redis);
    admin.disconnect();
  });

  it('a miss loads and stores; a hit answers from Redis without loading', async () => {
    const { cache, registry } = cacheWith();
    const conversations = cache.namespace<Conversation>('conversation');
    let loads = 0;
    const load = async () => {
      loads++;
      return { id: 'c-1', title: 'Physics 2B' };
    };
    assert.deepEqual(await conversations.get('c-1', load), { id: 'c-1', title: 'Physics 2B' });
    assert.deepEqual(await conversations.get('c-1', load), { id: 'c-1', title: 'Physics 2B' });
    assert.equal(loads, 1);
    const key = conversations.key('c-1');
    assert.equal(key, `${keyPrefix}cache:conversation:c-1`);
    assert.equal(await admin.get(key), '{"id":"c-1","title":"Physics 2B"}', 'plain JSON in Redis');

    const labels = { cache: 'conversation' };
    assert.equal(
      await metricValue(registry, 'cache_requests_total', { ...labels, result: 'hit' }),
      1,
    );
    assert.equal(
      await metricValue(registry, 'cache_requests_total', { ...labels, result: 'miss' }),
      1,
    );
    assert.equal(await metricValue(registry, 'cache_errors_total', labels), 0);
  });

  it('not found is cached for the negative TTL, and not at all where that is 0', async () => {
    const { cache } = cacheWith();
    const conversations = cache.namespace<Conversation>('conversation');
    let loads = 0;
    const nothing = async () => {
      loads++;
      return null;
    };
    assert.equal(await conversations.get('gone', nothing), null);
    assert.equal(await conversations.get('gone', nothing), null);
    assert.equal(loads, 1, 'the second lookup was answered by the cached "not found"');
    const negative = defaultCachePolicies.conversation.negativeTtlMs;
    const ttl = await admin.pttl(conversations.key('gone'));
    assert.ok(ttl > negative * 0.9 - 1_000 && ttl <= negative * 1.1, `negative ttl ${ttl}`);

    const recent = cache.namespace<string[]>('recent-messages');
    loads = 0;
    assert.equal(await recent.get('empty', nothing), null);
    assert.equal(await recent.get('empty', nothing), null);
    assert.equal(loads, 2, 'recent-messages caches no null');
    assert.equal(await admin.exists(recent.key('empty')), 0, 'and leaves no lease behind');
  });

  it('TTLs are spread within ttl × [1 − jitter, 1 + jitter]', async () => {
    const { cache } = cacheWith({
      'user-profile': { ttlMs: 100_000, jitter: 0.1, negativeTtlMs: 10_000 },
    });
    const profiles = cache.namespace<{ name: string }>('user-profile');
    const ttls: number[] = [];
    for (let i = 0; i < 30; i++) {
      await profiles.get(`u-${i}`, async () => ({ name: `user ${i}` }));
      await profiles.set(`w-${i}`, { name: `written ${i}` });
      ttls.push(await admin.pttl(profiles.key(`u-${i}`)), await admin.pttl(profiles.key(`w-${i}`)));
    }
    // Read right after writing: at most a few ms below the drawn TTL.
    assert.ok(
      ttls.every((ttl) => ttl >= 90_000 - 1_000 && ttl <= 110_000),
      `ttls ${ttls.join(',')}`,
    );
    assert.ok(new Set(ttls).size > 20, 'spread, not one expiry for everyone');
    assert.ok(Math.min(...ttls) < 97_000 && Math.max(...ttls) > 103_000, 'both sides of the TTL');
  });

  it('50 concurrent misses on one key cause exactly one PostgreSQL query', async () => {
    // Temporary tables live in this session only: nothing to clean up, nothing shared.
    const postgres = new pg.Client({ connectionString: servers.postgres.url });
    await postgres.connect();
    try {
      await postgres.query('CREATE TEMP TABLE conversations (id text PRIMARY KEY, title text)');
      await postgres.query('CREATE TEMP TABLE queries (n integer NOT NULL)');
      await postgres.query(`INSERT INTO conversations VALUES ('hot', 'Assembly, 8:00')`);
      await postgres.query('INSERT INTO queries VALUES (0)');
      const { cache, registry } = cacheWith();
      const conversations = cache.namespace<Conversation>('conversation');
      let loads = 0;
      // One statement reads the row and counts itself, so the count is PostgreSQL's own.
      const load = async () => {
        loads++;
        const result = await postgres.query<Conversation>(
          `WITH counted AS (UPDATE queries SET n = n + 1)
           SELECT id, title FROM conversations WHERE id = $1`,
          ['hot'],
        );
        return result.rows[0] ?? null;
      };
      // All 50 are issued before any Redis reply arrives: 50 concurrent misses.
      const results = await Promise.all(
        Array.from({ length: 50 }, () => conversations.get('hot', load)),
      );
      assert.equal(loads, 1);
      const counted = await postgres.query<{ n: number }>('SELECT n FROM queries');
      assert.equal(counted.rows[0]?.n, 1, 'PostgreSQL ran the query once');
      assert.ok(results.every((row) => row?.title === 'Assembly, 8:00'));
      const hits = await metricValue(registry, 'cache_requests_total', {
        cache: 'conversation',
        result: 'hit',
      });
      const misses = await metricValue(registry, 'cache_requests_total', {
        cache: 'conversation',
        result: 'miss',
      });
      assert.equal(hits + misses, 50, 'every request counted once');
      assert.ok(misses >= 1);
      assert.deepEqual(await conversations.get('hot', load), results[0]);
      assert.equal(loads, 1, 'and then it is a hit');
    } finally {
      await postgres.end();
    }
  });

  it('getMany: one MGET, the misses loaded in one call and written back in one pipeline', async () => {
    const { cache, registry } = cacheWith();
    const profiles = cache.namespace<{ name: string }>('user-profile');
    await profiles.get('a', async () => ({ name: 'Ada' }));
    await profiles.get('b', async () => ({ name: 'Brahmagupta' }));
    const batches: string[][] = [];
    const loadMany = async (missing: string[]) => {
      batches.push(missing);
      // 'd' does not exist: absent from the map.
      return new Map(missing.filter((id) => id !== 'd').map((id) => [id, { name: `${id}!` }]));
    };

    recorder.reset();
    const found = await profiles.getMany(['a', 'c', 'b', 'd', 'a'], loadMany);
    assert.deepEqual(batches, [['c', 'd']], 'one call, only the misses, each once');
    assert.deepEqual(
      [...found],
      [
        ['a', { name: 'Ada' }],
        ['c', { name: 'c!' }],
        ['b', { name: 'Brahmagupta' }],
      ],
      'in the order asked, not-found left out',
    );
    assert.equal(recorder.count('mget'), 1);
    // Leases (SET NX GET) for the two misses, then the two write-backs: one script call each
    // (EVALSHA, or EVAL the first time this connection runs it).
    assert.equal(recorder.count('set'), 2);
    assert.equal(recorder.count('evalsha') + recorder.count('eval'), 2);
    assert.equal(recorder.sent.length, 5, `sent ${recorder.sent.join(' ')}`);

    recorder.reset();
    const again = await profiles.getMany(['a', 'b', 'c', 'd'], loadMany);
    assert.equal(batches.length, 1, 'everything cached, "d" as not found');
    assert.equal(again.size, 3);
    assert.deepEqual(recorder.sent, ['mget'], 'a warm getMany is one command');
    assert.equal(
      await metricValue(registry, 'cache_requests_total', { cache: 'user-profile', result: 'hit' }),
      4 + 2,
    );
    assert.deepEqual(await profiles.getMany([], loadMany), new Map());
  });

  it('getWith: two namespaces read in one MGET; each miss loaded and filled by its own namespace', async () => {
    const { cache, registry } = cacheWith();
    const conversations = cache.namespace<Conversation>('conversation');
    const permissions = cache.namespace<{ role: string }>('permissions');
    const loads: string[] = [];
    const loadMembership = async () => {
      loads.push('membership');
      return { role: 'member' };
    };
    const loadConversation = async () => {
      loads.push('conversation');
      return { id: 'gw-1', title: 'Year 9' };
    };
    const readBoth = () =>
      permissions.getWith('gw-1:u-1', loadMembership, conversations, 'gw-1', loadConversation);

    recorder.reset();
    assert.deepEqual(await readBoth(), [{ role: 'member' }, { id: 'gw-1', title: 'Year 9' }]);
    assert.deepEqual(loads.sort(), ['conversation', 'membership']);
    assert.equal(recorder.count('mget'), 1, `sent ${recorder.sent.join(' ')}`);
    assert.equal(recorder.count('get'), 0);

    recorder.reset();
    assert.deepEqual(await readBoth(), [{ role: 'member' }, { id: 'gw-1', title: 'Year 9' }]);
    assert.equal(loads.length, 2, 'warm: nothing loaded');
    assert.deepEqual(recorder.sent, ['mget'], 'warm: one command');

    // One side invalidated: only that side is loaded, and filled for the next read.
    await conversations.invalidate('gw-1');
    const [, reloaded] = await permissions.getWith(
      'gw-1:u-1',
      loadMembership,
      conversations,
      'gw-1',
      async () => ({ id: 'gw-1', title: 'Year 9, renamed' }),
    );
    assert.equal(reloaded?.title, 'Year 9, renamed');
    assert.equal(loads.length, 2, 'the membership was a hit');
    assert.equal(
      await admin.get(conversations.key('gw-1')),
      '{"id":"gw-1","title":"Year 9, renamed"}',
    );

    // Not a member: cached as not found, answered null without a load next time.
    const stranger = await permissions.getWith(
      'gw-1:u-2',
      async () => null,
      conversations,
      'gw-1',
      loadConversation,
    );
    assert.equal(stranger[0], null);
    const again = await permissions.getWith(
      'gw-1:u-2',
      async () => {
        throw new Error('a cached "not found" is not loaded again');
      },
      conversations,
      'gw-1',
      loadConversation,
    );
    assert.equal(again[0], null);

    const count = (cacheName: string, result: string) =>
      metricValue(registry, 'cache_requests_total', { cache: cacheName, result });
    assert.equal(await count('permissions', 'hit'), 3);
    assert.equal(await count('permissions', 'miss'), 2);
    assert.equal(await count('conversation', 'hit'), 3);
    assert.equal(await count('conversation', 'miss'), 2);
  });

  it('getWith without Redis: both loaders answer, each namespace counts the error', async () => {
    const never = new Redis({ port, lazyConnect: true });
    const { cache, registry } = cacheWith({}, { client: never });
    const conversations = cache.namespace<Conversation>('conversation');
    const permissions = cache.namespace<{ role: string }>('permissions');
    const answer = await permissions.getWith(
      'off:u',
      async () => ({ role: 'owner' }),
      conversations,
      'off',
      async () => ({ id: 'off', title: 'from PostgreSQL' }),
    );
    assert.deepEqual(answer, [{ role: 'owner' }, { id: 'off', title: 'from PostgreSQL' }]);
    assert.equal(never.status, 'wait', 'no command was even attempted');
    for (const name of ['conversation', 'permissions']) {
      assert.equal(await metricValue(registry, 'cache_errors_total', { cache: name }), 1, name);
    }
  });

  it("a user's unread counters share one hash tag, read with one MGET, and stay INCRBY-able", async () => {
    const { cache } = cacheWith();
    const counter: CacheCodec<number> = { encode: String, decode: Number };
    const unread = cache.namespace<number>('unread-counts', { codec: counter });
    assert.throws(() => unread.key('c-1'), /groups its keys by user/);
    assert.throws(() => cache.namespace('conversation').group('42'), /declares no hashTag/);

    const mine = unread.group('42');
    const conversationIds = Array.from({ length: 50 }, (_, i) => `c-${i}`);
    const keys = conversationIds.map((id) => mine.key(id));
    assert.equal(keys[0], `${keyPrefix}cache:unread-counts:{user:42}:c-0`);
    // Redis Cluster hashes only what is between the first { and the next }: one slot for all.
    assert.deepEqual(
      new Set(keys.map((key) => /\{([^}]*)\}/.exec(key)?.[1])),
      new Set(['user:42']),
    );

    recorder.reset();
    const counts = await mine.getMany(
      conversationIds,
      async (missing) => new Map(missing.map((id, i) => [id, i])),
    );
    assert.equal(counts.size, 50);
    assert.equal(recorder.count('mget'), 1, '50 counters, one MGET');
    assert.equal(await admin.get(mine.key('c-7')), '7', 'stored as a plain integer');
    await admin.incrby(mine.key('c-7'), 3);
    assert.equal(await mine.get('c-7', async () => 0), 10);
    await mine.invalidate(...conversationIds);
    assert.equal(await admin.exists(...keys), 0, 'one DEL for the whole group');
  });

  it("conversations' unread heads spread over 16 shards, and 50 of them are one MGET", async () => {
    const { cache } = cacheWith();
    const heads = cache.namespace<{ seq: number; version: number }>('unread-heads');
    assert.throws(() => heads.group('42'), /shards its keys itself/);
    const conversationIds = Array.from({ length: 50 }, (_, i) => `c-${i}`);
    const keys = conversationIds.map((id) => heads.key(id));
    assert.match(
      keys[0] ?? '',
      new RegExp(`^${keyPrefix}cache:unread-heads:\\{unread-heads:\\d+\\}:c-0$`),
    );
    const tags = new Set(keys.map((key) => /\{([^}]*)\}/.exec(key)?.[1]));
    assert.ok(tags.size > 1 && tags.size <= 16, `${tags.size} shards`);
    assert.equal(heads.key('c-7'), keys[7], 'the same id, the same shard');

    const load = async (missing: string[]) =>
      new Map(missing.map((id) => [id, { seq: Number(id.slice(2)), version: 1 }]));
    await heads.getMany(conversationIds, load);
    recorder.reset();
    const warm = await heads.getMany(conversationIds, load);
    assert.equal(warm.get('c-49')?.seq, 49);
    assert.deepEqual(recorder.sent, ['mget'], 'a warm read of 50 heads is one command');
    await heads.invalidate('c-3', 'c-4');
    assert.equal(await admin.exists(keys[3] ?? '', keys[4] ?? ''), 0);
    assert.equal(await admin.exists(keys[5] ?? ''), 1);
  });

  it('invalidation racing a load: the stale value is returned once but never written back', async () => {
    const { cache } = cacheWith();
    const conversations = cache.namespace<Conversation>('conversation');
    const key = conversations.key('race');
    let row = { id: 'race', title: 'old title' };
    const loadStarted = gate();
    const release = gate();
    let loads = 0;
    const slowLoad = async () => {
      loads++;
      const seen = row; // the SELECT: it sees the row as it is now
      loadStarted.open();
      await release.opened;
      return seen;
    };

    const reader = conversations.get('race', slowLoad);
    await loadStarted.opened;
    assert.ok((await admin.get(key))?.startsWith(LEASE), 'the reader holds a lease');

    // The writer commits, then invalidates.
    row = { id: 'race', title: 'new title' };
    await conversations.invalidate('race');

    // A request that arrives after the invalidation does not join the stale load.
    let freshLoads = 0;
    const later = await conversations.get('race', async () => {
      freshLoads++;
      return row;
    });
    assert.equal(later?.title, 'new title');
    assert.equal(freshLoads, 1);

    release.open();
    assert.equal((await reader)?.title, 'old title', 'it began before the commit');
    assert.equal(
      await admin.get(key),
      '{"id":"race","title":"new title"}',
      'the late write-back of the stale load was refused',
    );
    assert.equal((await conversations.get('race', slowLoad))?.title, 'new title');
    assert.equal(loads, 1, 'a hit');
  });

  it('getMany racing an invalidation: the invalidated id is not written back, the rest is', async () => {
    const { cache } = cacheWith();
    const profiles = cache.namespace<{ name: string }>('user-profile');
    const loadStarted = gate();
    const release = gate();
    const many = profiles.getMany(['p-1', 'p-2'], async (missing) => {
      const seen = new Map(missing.map((id) => [id, { name: `old ${id}` }]));
      loadStarted.open();
      await release.opened;
      return seen;
    });
    await loadStarted.opened;
    await profiles.invalidate('p-1'); // p-1 was renamed and committed meanwhile
    release.open();
    assert.equal((await many).size, 2);
    assert.equal(await admin.exists(profiles.key('p-1')), 0, 'no stale p-1');
    assert.equal(
      await admin.get(profiles.key('p-2')),
      '{"name":"old p-2"}',
      'p-2 untouched: cached',
    );
  });

  it('write-through racing a load: the written value wins', async () => {
    const { cache } = cacheWith();
    const sessions = cache.namespace<{ userId: string }>('session');
    const loadStarted = gate();
    const release = gate();
    const reader = sessions.get('s-1', async () => {
      loadStarted.open();
      await release.opened;
      return { userId: 'stale' };
    });
    await loadStarted.opened;
    await sessions.set('s-1', { userId: 'fresh' });
    release.open();
    assert.equal((await reader)?.userId, 'stale');
    assert.equal(await admin.get(sessions.key('s-1')), '{"userId":"fresh"}');
  });

  it("another process's reader finds the lease: it loads for itself and writes nothing", async () => {
    const otherClient = connectApi('cache-test-other');
    await waitFor('other client ready', async () => otherClient.status === 'ready');
    try {
      const mine = cacheWith().cache.namespace<Conversation>('conversation');
      const theirs = cacheWith({}, { client: otherClient }).cache.namespace<Conversation>(
        'conversation',
      );
      const loadStarted = gate();
      const release = gate();
      const first = mine.get('shared', async () => {
        loadStarted.open();
        await release.opened;
        return { id: 'shared', title: 'from the first process' };
      });
      await loadStarted.opened;
      const second = await theirs.get('shared', async () => ({
        id: 'shared',
        title: 'from the second process',
      }));
      assert.equal(second?.title, 'from the second process');
      assert.ok((await admin.get(mine.key('shared')))?.startsWith(LEASE), 'lease intact');
      release.open();
      await first;
      assert.equal((await theirs.get('shared', async () => null))?.title, 'from the first process');
    } finally {
      await closeRedisClient(otherClient);
    }
  });

  it('a load that fails gives its lease back and reaches every joined caller', async () => {
    const { cache } = cacheWith();
    const conversations = cache.namespace<Conversation>('conversation');
    let loads = 0;
    const failing = async (): Promise<Conversation> => {
      loads++;
      throw new Error('PostgreSQL unavailable');
    };
    const attempts = await Promise.allSettled(
      Array.from({ length: 5 }, () => conversations.get('fails', failing)),
    );
    assert.equal(loads, 1);
    assert.ok(attempts.every((attempt) => attempt.status === 'rejected'));
    assert.equal(await admin.exists(conversations.key('fails')), 0, 'no lease left behind');
  });

  it('hostile ids: safe keys under the prefix, distinct, and usable', async () => {
    const { cache } = cacheWith();
    const conversations = cache.namespace<Conversation>('conversation');
    const hostile = [
      '{user:1}',
      '}{',
      'a b',
      'line\nbreak',
      '\u0000',
      '*',
      '../../etc',
      'ключ',
      '😀',
      `${keyPrefix}cache:conversation:x`,
      'z'.repeat(10_000),
    ];
    const keys = hostile.map((id) => conversations.key(id));
    assert.equal(new Set(keys).size, hostile.length);
    for (const [index, id] of hostile.entries()) {
      const key = keys[index] ?? '';
      assert.ok(key.startsWith(`${keyPrefix}cache:conversation:`));
      assert.doesNotMatch(key.slice(keyPrefix.length), /[{}\s*]/);
      assert.ok(!key.includes('\u0000'));
      // A readable id is at most 64 characters; anything longer is a 23-character hash.
      assert.ok(key.length <= `${keyPrefix}cache:conversation:`.length + 64);
      const value = { id, title: `title of ${id.slice(0, 20)}` };
      assert.deepEqual(await conversations.get(id, async () => value), value);
      assert.deepEqual(await conversations.get(id, async () => null), value, 'a hit');
    }
    await assert.rejects(
      conversations.get('', async () => null),
      RangeError,
    );
    await conversations.invalidate('', '{user:1}');
    assert.equal(await admin.exists(conversations.key('{user:1}')), 0);
  });

  it('an entry that no longer decodes (an older shape) is a miss, counted, and replaced', async () => {
    const { cache, registry } = cacheWith();
    const strict: CacheCodec<Conversation> = {
      encode: (value) => JSON.stringify(value),
      decode: (text) => {
        const value: unknown = JSON.parse(text);
        if (typeof value === 'object' && value !== null && 'title' in value && 'id' in value) {
          return value as Conversation;
        }
        throw new TypeError('not a conversation');
      },
    };
    const conversations = cache.namespace('conversation', { codec: strict });
    await admin.set(conversations.key('v1'), '{"name":"written by last release"}', 'PX', 60_000);
    const value = await conversations.get('v1', async () => ({ id: 'v1', title: 'current' }));
    assert.equal(value?.title, 'current');
    assert.equal(await admin.get(conversations.key('v1')), '{"id":"v1","title":"current"}');
    assert.equal(await metricValue(registry, 'cache_errors_total', { cache: 'conversation' }), 1);

    await admin.set(conversations.key('v2'), '{"name":"also old"}', 'PX', 60_000);
    const many = await conversations.getMany(['v1', 'v2'], async (ids) => {
      assert.deepEqual(ids, ['v2']);
      return new Map([['v2', { id: 'v2', title: 'current too' }]]);
    });
    assert.equal(many.get('v2')?.title, 'current too');
    assert.equal(await admin.get(conversations.key('v2')), '{"id":"v2","title":"current too"}');
  });

  it('without a breaker, a client that is not connected is not waited for', async () => {
    const never = new Redis({ port, lazyConnect: true });
    const { cache, registry } = cacheWith({}, { client: never });
    const conversations = cache.namespace<Conversation>('conversation');
    const value = await conversations.get('offline', async () => ({ id: 'offline', title: 't' }));
    assert.equal(value?.title, 't');
    await conversations.set('offline', { id: 'offline', title: 'u' });
    assert.equal(never.status, 'wait', 'no command was even attempted (it would connect)');
    assert.equal(await metricValue(registry, 'cache_errors_total', { cache: 'conversation' }), 2);
  });

  it('enabled: false bypasses Redis entirely', async () => {
    const { cache, registry } = cacheWith({}, { enabled: false });
    const conversations = cache.namespace<Conversation>('conversation');
    recorder.reset();
    let loads = 0;
    const load = async () => {
      loads++;
      return { id: 'off', title: 'uncached' };
    };
    await conversations.get('off', load);
    await conversations.get('off', load);
    await conversations.set('off', { id: 'off', title: 'ignored' });
    await conversations.invalidate('off');
    const many = await conversations.getMany(['x', 'y'], async (ids) => {
      loads++;
      return new Map(ids.map((id) => [id, { id, title: id }]));
    });
    assert.equal(many.size, 2);
    assert.equal(loads, 3);
    assert.deepEqual(recorder.sent, [], 'not one command');
    assert.equal(await admin.exists(conversations.key('off')), 0);
    assert.doesNotMatch(await registry.metrics(), /^cache_\w+\{.*\} [1-9]/m, 'nothing counted');
  });
});
