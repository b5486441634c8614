import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Emitter } from '@socket.io/redis-emitter';
import { Redis } from 'ioredis';
import { io as connectClient, type Socket } from 'socket.io-client';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedServers,
} from '../harness/test-environment.js';

// Two gateway instances share broadcasts through Redis; the api's Redis user can emit to them
// (the emitter is how the api and the worker will reach sockets).
describe('socket gateway across instances', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const gateways: ServiceProcess[] = [];
  const clients: Socket[] = [];
  let apiRedis: Redis;

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    for (let i = 0; i < 2; i++) {
      gateways.push(await startService('socket', serviceEnvironment('socket', database.url)));
    }
    const servers = sharedServers();
    apiRedis = new Redis({
      port: servers.redis.port,
      host: '127.0.0.1',
      username: 'api',
      password: servers.redis.passwords.api,
    });
  });
  after(async () => {
    for (const client of clients) client.disconnect();
    apiRedis.disconnect();
    await Promise.all(gateways.map((gateway) => gateway.stop('SIGTERM')));
    await database.drop();
  });

  it('delivers one emit to clients connected to different instances', async () => {
    for (const gateway of gateways) {
      const client = connectClient(gateway.baseUrl, {
        transports: ['websocket'],
        reconnection: false,
      });
      clients.push(client);
      await new Promise<void>((resolve, reject) => {
        client.once('connect', resolve);
        client.once('connect_error', reject);
      });
    }
    const received = clients.map(
      (client) => new Promise<unknown>((resolve) => client.once('announcement', resolve)),
    );
    const emitter = new Emitter(apiRedis, { key: 'quad:socket.io' });
    // The adapters subscribe asynchronously after start-up; emit until both clients heard it.
    const payload = { text: 'hello from the api' };
    const interval = setInterval(() => emitter.emit('announcement', payload), 50);
    try {
      assert.deepEqual(await Promise.all(received), [payload, payload]);
    } finally {
      clearInterval(interval);
    }
  });

  it('counts open connections in socket_connections', async () => {
    const text = await (await fetch(`${gateways[0]?.baseUrl}/metrics`)).text();
    assert.match(text, /socket_connections\{service="socket"\} 1/);
  });
});
