import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import {
  defineLuaScripts,
  type LuaScript,
  loadLuaScripts,
  luaScriptCommand,
  runLuaScript,
} from '../../lib/redis/lua-scripts.js';
import {
  closeRedisClient,
  createRedisClient,
  type RedisClient,
} from '../../lib/redis/redis-client.js';
import { commandCalls } from '../harness/redis-admin.js';
import { startRedisServer, type TestRedisServer } from '../harness/redis-server.js';
import { waitFor } from '../harness/wait-for.js';

/** Each script answers what it was given, KEYS apart from ARGV. */
const ECHO = "return { KEYS, ARGV, redis.call('INCR', KEYS[1]) }";

// The loader on the production client (role `command`, ACL user api) against a private
// redis-server: SCRIPT FLUSH empties the server's script cache for every client, so it is not
// done on the shared servers other test files use at the same time.
describe('Lua scripts through the loader, against a real Redis that forgets them', () => {
  const work = mkdtempSync(join(tmpdir(), 'quad-lua-loader-'));
  const moduleUrl = pathToFileURL(join(work, 'lib', 'echo', 'echo.js')).href;
  mkdirSync(join(work, 'lib', 'echo'), { recursive: true });
  writeFileSync(join(work, 'lib', 'echo', 'echo-2.lua'), ECHO);
  writeFileSync(join(work, 'lib', 'echo', 'echo-any.lua'), ECHO);
  writeFileSync(join(work, 'lib', 'echo', 'echo-again-1.lua'), `-- other\n${ECHO}`);
  const scripts = loadLuaScripts(moduleUrl, {
    two: 'echo-2.lua',
    variable: 'echo-any.lua',
    again: 'echo-again-1.lua',
  });

  let server: TestRedisServer;
  let redis: RedisClient;
  let admin: Redis;
  const logger = pino({ level: 'silent' });
  let sequence = 0;
  const key = () => `quad:lua-loader:${sequence++}`;

  before(async () => {
    server = await startRedisServer('state');
    redis = createRedisClient(server.endpoint('api'), 'command', 'lua-loader-test', logger);
    admin = new Redis({ port: server.port, password: server.passwords.default });
    admin.on('error', () => {});
    await waitFor('redis ready', async () => redis.status === 'ready' && admin.status === 'ready');
    defineLuaScripts(redis, scripts);
  });
  after(async () => {
    await closeRedisClient(redis);
    admin.disconnect();
    await server.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('passes as many KEYS as the file name says; a name without a count takes it first', async () => {
    const [a, b] = [key(), key()];
    assert.deepEqual(await runLuaScript(redis, scripts.two, a, b, 'x', 7), [[a, b], ['x', '7'], 1]);
    assert.deepEqual(await runLuaScript(redis, scripts.variable, 1, a, b), [[a], [b], 2]);
  });

  it('defining again is a no-op; two different scripts under one name are refused', () => {
    defineLuaScripts(redis, scripts);
    const impostor: LuaScript = { ...scripts.two, lua: 'return 0' };
    assert.throws(
      () => defineLuaScripts(redis, { impostor }),
      /two different Lua scripts named echo-2\.lua/,
    );
  });

  it('after SCRIPT FLUSH mid-run, the next call still succeeds (resent once as EVAL)', async () => {
    const counter = key();
    const bound = luaScriptCommand(redis, scripts.again);
    assert.deepEqual(await bound(counter, 'first'), [[counter], ['first'], 1]);
    // Now Redis knows the script and the client sends it by SHA.
    assert.deepEqual(await bound(counter, 'by-sha'), [[counter], ['by-sha'], 2]);
    const before = await commandCalls(admin, 'evalsha');
    assert.equal(await admin.script('FLUSH'), 'OK');
    assert.deepEqual(await bound(counter, 'after-flush'), [[counter], ['after-flush'], 3]);
    const other = key();
    assert.deepEqual(
      await runLuaScript(redis, scripts.two, counter, other, 'again'),
      [[counter, other], ['again'], 4],
      'and so does a script the flush took along',
    );
    const afterFlush = await commandCalls(admin, 'evalsha');
    assert.ok(afterFlush.failed > before.failed, 'the flush made Redis answer NOSCRIPT');
    assert.deepEqual(await bound(counter, 'by-sha-again'), [[counter], ['by-sha-again'], 5]);
  });

  it('after SCRIPT FLUSH, every call queued in the next pipeline still succeeds', async () => {
    const counter = key();
    const queueThree = () => {
      const pipeline = redis.pipeline();
      for (const label of ['a', 'b', 'c'])
        runLuaScript(pipeline, scripts.two, counter, key(), label);
      pipeline.get(counter);
      return pipeline.exec();
    };
    const first = await queueThree();
    assert.deepEqual(
      first?.map(([error]) => error),
      [null, null, null, null],
    );
    assert.deepEqual(first?.[3], [null, '3']);
    const before = await commandCalls(admin, 'evalsha');
    await admin.script('FLUSH');
    const second = await queueThree();
    assert.deepEqual(
      second?.map(([error]) => error),
      [null, null, null, null],
    );
    assert.deepEqual(
      second?.slice(0, 3).map(([, reply]) => (reply as [string[], string[], number])[2]),
      [4, 5, 6],
    );
    assert.ok((await commandCalls(admin, 'evalsha')).failed > before.failed);
    assert.equal(await redis.get(counter), '6');
  });
});
