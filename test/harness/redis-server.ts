import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { RedisEndpoint } from '../../lib/config/index.js';
import { freePort } from './free-port.js';
import { waitFor } from './wait-for.js';

export type RedisUser = 'default' | 'api' | 'socket' | 'worker';

export interface TestRedisServer {
  role: 'state' | 'cache';
  port: number;
  passwords: Record<RedisUser, string>;
  /** redis://user:password@127.0.0.1:port */
  url(user: RedisUser): string;
  /** The connection settings a Quad service would resolve for `user` (lib/config's shape). */
  endpoint(user: RedisUser): RedisEndpoint;
  /** Environment that config/redis/start-redis.sh reads. */
  aclEnvironment: Record<string, string>;
  /** Stops the server (SIGTERM; SIGKILL for a crash) and waits for it. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again on the same port with the same users (after stop()). */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  dispose(): Promise<void>;
}

const root = join(import.meta.dirname, '..', '..');

/**
 * A real, password-protected redis-server on a free port in a temporary directory, started
 * through the project's own config/redis/start-redis.sh so that tests run the exact ACL users
 * and rules that compose and `make dev` run.
 */
export async function startRedisServer(
  role: 'state' | 'cache' = 'state',
  /** Share another server's users, as the state and cache instances do in production. */
  sharedPasswords?: Record<RedisUser, string>,
  /** More redis-server arguments (a cluster node's); `{dir}` stands for its directory. */
  extraArguments: readonly string[] = [],
): Promise<TestRedisServer> {
  const dir = mkdtempSync(join(tmpdir(), `quad-test-redis-${role}-`));
  const port = await freePort();
  const secret = () => randomBytes(18).toString('hex');
  const passwords: Record<RedisUser, string> = sharedPasswords ?? {
    default: secret(),
    api: secret(),
    socket: secret(),
    worker: secret(),
  };
  const aclEnvironment = {
    REDIS_ADMIN_PASSWORD: passwords.default,
    REDIS_API_PASSWORD: passwords.api,
    REDIS_SOCKET_PASSWORD: passwords.socket,
    REDIS_WORKER_PASSWORD: passwords.worker,
    REDIS_KEY_PREFIX: 'quad:',
    REDIS_ACL_DIR: join(dir, 'acl'),
  };
  let child: ChildProcess | undefined;
  let output = '';

  const start = async () => {
    output = '';
    child = spawn(
      'sh',
      [
        join(root, 'config/redis/start-redis.sh'),
        role,
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'no',
        '--save',
        '',
        ...extraArguments.map((argument) => argument.replaceAll('{dir}', dir)),
      ],
      { env: { ...process.env, ...aclEnvironment }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      password: passwords.default,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => {});
    try {
      await waitFor(`redis-server (${role}) on ${port}: ${output}`, async () => {
        if (child?.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
        if (probe.status !== 'ready') {
          probe.disconnect();
          await probe.connect();
        }
        return (await probe.ping()) === 'PONG';
      });
    } finally {
      probe.disconnect();
    }
  };

  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM') => {
    const running = child;
    // A process ended by a signal has exitCode null and a signalCode.
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill(signal);
    await exited;
  };

  await start();
  return {
    role,
    port,
    passwords,
    aclEnvironment,
    endpoint: (user) => ({
      host: '127.0.0.1',
      port,
      username: user,
      password: passwords[user],
      db: 0,
      tls: false,
      display: `redis://${user}@127.0.0.1:${port}/0`,
    }),
    url: (user) =>
      `redis://${encodeURIComponent(user)}:${encodeURIComponent(passwords[user])}@127.0.0.1:${port}`,
    stop,
    restart: start,
    async dispose() {
      await stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
