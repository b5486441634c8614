import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { parseClusterNodes } from '../../lib/config/index.js';
import { Presence } from '../../lib/realtime/index.js';
import { defineLuaScripts, loadLuaScripts, runLuaScript } from '../../lib/redis/lua-scripts.js';
import {
  closeRedisClient,
  createRedisClient,
  isCluster,
  type RedisClient,
} from '../../lib/redis/redis-client.js';
import { mgetAcrossSlots, runBatch } from '../../lib/redis/slot-batches.js';
import { sharedServers, uniqueName } from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// The production client (role `command`, ACL user api) on the shared Redis Cluster of the
// cluster pass: what a batch over independent keys needs there, and that the project's own
// stores and scripts run unchanged.
describe('Redis Cluster: batches split per slot, scripts and stores unchanged', () => {
  const servers = sharedServers();
  const logger = pino({ level: 'silent' });
  const prefix = `quad:${uniqueName('cluster')}:`;
  let redis: RedisClient;

  before(async () => {
    const nodes = parseClusterNodes('QUAD_TEST_SERVERS', servers.redis.clusterNodes ?? '', []);
    assert.ok(nodes, 'the cluster pass runs on a Redis Cluster (make test-cluster)');
    redis = createRedisClient(
      {
        host: '127.0.0.1',
        port: servers.redis.port,
        clusterNodes: nodes,
        username: 'api',
        password: servers.redis.passwords.api,
        db: 0,
        tls: false,
        display: 'test cluster',
      },
      'command',
      'cluster-test',
      logger,
    );
    await waitFor('cluster client ready', async () => redis.status === 'ready');
  });
  after(async () => {
    await closeRedisClient(redis);
  });

  it('is a cluster client over three masters', async () => {
    assert.ok(isCluster(redis));
    assert.ok(isCluster(redis) && redis.nodes('master').length === 3);
  });

  it('refuses a plain pipeline and MGET over independent keys; the slot batches answer in order', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `${prefix}independent:${i}`);
    await Promise.all(keys.map((key, i) => redis.set(key, `v${i}`)));

    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.get(key);
    await assert.rejects(pipeline.exec(), /same slots allocation group|same slot/);
    await assert.rejects(redis.mget(keys), /CROSSSLOT/);

    const missing = `${prefix}independent:missing`;
    assert.deepEqual(await mgetAcrossSlots(redis, [...keys, missing]), [
      ...keys.map((_, i) => `v${i}`),
      null,
    ]);
    const outcomes = await runBatch(
      redis,
      keys.map((key) => ({ key, queue: (p) => p.strlen(key) })),
    );
    assert.deepEqual(
      outcomes,
      keys.map((_, i) => ({ reply: `v${i}`.length })),
    );
  });

  it('runs loader scripts on keys that share a hash tag, alone and in a split batch', async () => {
    const scripts = loadLuaScripts(import.meta.url, { pair: 'cluster-pair-2.lua' });
    defineLuaScripts(redis, scripts);
    const groups = Array.from({ length: 8 }, (_, i) => `${prefix}{group-${i}}`);
    for (const group of groups) {
      assert.equal(await runLuaScript(redis, scripts.pair, `${group}:a`, `${group}:b`, 'x'), 2);
    }
    const outcomes = await runBatch(
      redis,
      groups.map((group) => ({
        key: `${group}:a`,
        queue: (p) => runLuaScript(p, scripts.pair, `${group}:a`, `${group}:b`, 'y'),
      })),
    );
    assert.deepEqual(
      outcomes,
      groups.map(() => ({ reply: 2 })),
    );
  });

  it('presence: one heartbeat batch over all 16 index shards, queries and sweeps work', async () => {
    const presence = new Presence({
      redis,
      keyPrefix: prefix,
      registry: new Registry(),
      logger,
      ttlMs: 60_000,
    });
    const users = Array.from(
      { length: 40 },
      (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    const refs = users.map((userId) => ({ userId, connectionId: `c-${userId}` }));
    assert.equal((await presence.heartbeat(refs)).length, users.length, 'all came online');
    const status = await presence.presenceOf(users);
    assert.ok(status);
    assert.equal([...status.values()].filter((user) => user.online).length, users.length);
    assert.equal(await presence.onlineCount(), users.length);
  });
});
