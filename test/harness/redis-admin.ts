import { Redis } from 'ioredis';
import type { TestRedisServer } from './redis-server.js';

/**
 * An admin (`default` user) connection to a private test server that keeps trying every 50 ms
 * while the server is stopped or paused, its connection errors ignored: the tests that use it
 * stop and restart the server on purpose.
 */
export function connectAdmin(server: TestRedisServer): Redis {
  const client = new Redis({
    port: server.port,
    password: server.passwords.default,
    retryStrategy: () => 50,
  });
  client.on('error', () => {});
  return client;
}

/** Calls of one command the server has processed since it started, and how many of them
 *  answered an error (a NOSCRIPT EVALSHA, say), from INFO commandstats. */
export async function commandCalls(admin: Redis, command: string) {
  const stats = await admin.info('commandstats');
  const line = new RegExp(`cmdstat_${command}:calls=(\\d+).*failed_calls=(\\d+)`).exec(stats);
  return { calls: Number(line?.[1] ?? 0), failed: Number(line?.[2] ?? 0) };
}
