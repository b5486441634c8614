import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { type RedisUser, startRedisServer, type TestRedisServer } from '../harness/redis-server.js';

/** Sends raw RESP text on a fresh connection and returns the first reply, as redis-cli would. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' }, () => socket.write(request));
    socket.once('data', (data) => {
      resolve(data.toString());
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

// The ACL users rendered by config/redis/start-redis.sh, exercised against a real redis-server.
describe('Redis ACL users (config/redis)', () => {
  let state: TestRedisServer;
  let cache: TestRedisServer;
  const clients: Redis[] = [];

  const connect = (server: TestRedisServer, user?: RedisUser) => {
    const client = new Redis({
      host: '127.0.0.1',
      port: server.port,
      ...(user ? { username: user, password: server.passwords[user] } : {}),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    clients.push(client);
    return client;
  };

  before(async () => {
    state = await startRedisServer('state');
    cache = await startRedisServer('cache', state.passwords);
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    await Promise.all([state.dispose(), cache.dispose()]);
  });

  it('refuses an unauthenticated PING with NOAUTH on both instances', async () => {
    for (const server of [state, cache]) {
      assert.match(await rawExchange(server.port, 'PING\r\n'), /^-NOAUTH/);
    }
  });

  it('refuses a wrong password', async () => {
    assert.match(await rawExchange(state.port, 'AUTH socket wrong\r\n'), /^-WRONGPASS/);
  });

  for (const user of ['api', 'socket', 'worker'] as const) {
    it(`${user}: reads and writes keys under the prefix only`, async () => {
      const client = connect(state, user);
      await client.connect();
      assert.equal(await client.set(`quad:acl-test:${user}`, '1', 'EX', 10), 'OK');
      assert.equal(await client.get(`quad:acl-test:${user}`), '1');
      assert.equal(
        await client.eval("return redis.call('INCR', KEYS[1])", 1, `quad:acl:${user}`),
        1,
      );
      assert.ok((await client.info('server')).includes('redis_version'));
      await assert.rejects(client.set(`other:${user}`, '1'), /NOPERM/);
      await assert.rejects(client.publish('elsewhere', 'x'), /NOPERM/);
      assert.equal(await client.publish('quad:events', 'x'), 0);
    });

    it(`${user}: cannot run FLUSHALL, CONFIG, KEYS, DEBUG or SHUTDOWN`, async () => {
      const client = connect(state, user);
      await client.connect();
      await assert.rejects(client.flushall(), /NOPERM/);
      await assert.rejects(client.config('GET', 'maxmemory'), /NOPERM/);
      await assert.rejects(client.keys('quad:*'), /NOPERM/);
      // DEBUG is also disabled server-wide (enable-debug-command no); either refusal will do.
      await assert.rejects(client.call('DEBUG', 'SLEEP', '0'), /NOPERM|not allowed/);
      await assert.rejects(client.call('SHUTDOWN'), /NOPERM/);
    });
  }

  it('socket: may subscribe to the Socket.IO adapter channels', async () => {
    const client = connect(state, 'socket');
    await client.connect();
    await client.psubscribe('quad:socket.io#/#*');
    await client.subscribe('quad:socket.io-request#/#');
    await assert.rejects(client.psubscribe('*'), /NOPERM/);
  });

  it('runs the state instance without eviction and the cache with LRU eviction', async () => {
    const stateAdmin = connect(state, 'default');
    const cacheAdmin = connect(cache, 'default');
    await Promise.all([stateAdmin.connect(), cacheAdmin.connect()]);
    assert.deepEqual(await stateAdmin.config('GET', 'maxmemory-policy'), [
      'maxmemory-policy',
      'noeviction',
    ]);
    assert.deepEqual(await cacheAdmin.config('GET', 'maxmemory-policy'), [
      'maxmemory-policy',
      'allkeys-lru',
    ]);
  });

  it('exporter: cannot log in unless REDIS_EXPORTER_PASSWORD is set', async () => {
    assert.match(await rawExchange(state.port, 'AUTH exporter anything\r\n'), /^-WRONGPASS/);
  });

  it('exporter: with its password, reads statistics and the slow log, never a key', async () => {
    // start-redis.sh reads the variable from its environment, as compose and make dev pass it.
    process.env.REDIS_EXPORTER_PASSWORD = 'exporter-secret-for-the-test';
    const monitored = await startRedisServer('cache', state.passwords).finally(() => {
      delete process.env.REDIS_EXPORTER_PASSWORD;
    });
    const exporter = new Redis({
      host: '127.0.0.1',
      port: monitored.port,
      username: 'exporter',
      password: 'exporter-secret-for-the-test',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      retryStrategy: () => null,
    });
    exporter.on('error', () => {});
    try {
      await exporter.connect();
      assert.match(await exporter.info('memory'), /maxmemory:/);
      assert.equal(typeof (await exporter.slowlog('LEN')), 'number');
      await assert.rejects(exporter.get('quad:anything'), /NOPERM/);
      await assert.rejects(exporter.config('GET', 'requirepass'), /NOPERM/);
      await assert.rejects(exporter.keys('*'), /NOPERM/);
      await assert.rejects(exporter.publish('quad:events', 'x'), /NOPERM/);
    } finally {
      exporter.disconnect();
      await monitored.dispose();
    }
  });
});
