import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { callApi, createAccount, loginAs } from './api-client.js';
import { startRedisServer, type TestRedisServer } from './redis-server.js';
import { type ServiceProcess, startService } from './service-process.js';
import { createTestDatabase, serviceEnvironment, uniqueName } from './test-environment.js';

export interface Person {
  id: string;
  token: string;
}

/** Login and sending limits high enough that a test's own traffic is never refused. */
const generousLimits = {
  'login-ip': { limit: 1_000, windowMs: 60_000 },
  'login-account': { limit: 1_000, windowMs: 60_000 },
  'message-send': { limit: 10_000, windowMs: 10_000 },
  'api-user': { limit: 100_000, windowMs: 60_000 },
};

/**
 * A real api process over a fresh database and a Redis pair of its own (private, so that a
 * test's FLUSHALL, stopped server or command statistics concern that test alone), with one
 * logged-in account per name and an admin connection to the cache Redis. The helpers below
 * are the client calls most messaging tests make.
 */
export async function startPrivateApi<Name extends string>(options: {
  names: readonly Name[];
  /** Names the key prefix, for an operator reading the test Redis. */
  label: string;
}) {
  const database = await createTestDatabase();
  await runMigrations(database.url, createLogger('test', 'silent'));
  const state: TestRedisServer = await startRedisServer('state');
  const cache: TestRedisServer = await startRedisServer('cache', state.passwords);
  const keyPrefix = `quad:${uniqueName(options.label)}:`;
  const people = {} as Record<Name, Person>;
  for (const name of options.names) {
    people[name] = { id: (await createAccount(database.url, name)).id, token: '' };
  }
  const api: ServiceProcess = await startService('api', {
    ...serviceEnvironment('api', database.url, { state: state.port, cache: cache.port }),
    REDIS_PASSWORD: state.passwords.api,
    REDIS_KEY_PREFIX: keyPrefix,
    RATE_LIMITS: JSON.stringify(generousLimits),
  });
  const login = async (username: string) => (await loginAs(api.baseUrl, username)).token;
  for (const name of options.names) people[name].token = await login(name);
  const cacheAdmin = new Redis({
    port: cache.port,
    password: cache.passwords.default,
    lazyConnect: true,
  });
  // Tests that stop the cache Redis on purpose expect its refused reconnects.
  cacheAdmin.on('error', () => {});
  await cacheAdmin.connect();

  const created = async (reply: Promise<{ status: number; body: Record<string, unknown> }>) => {
    const { status, body } = await reply;
    assert.equal(status, 201, JSON.stringify(body));
    return String(body.id);
  };

  return {
    database,
    state,
    cache,
    cacheAdmin,
    api,
    keyPrefix,
    people,
    login,
    /** Sends a message; returns its id. */
    send: (who: Person, conversationId: string, body: string) =>
      created(
        callApi(api.baseUrl, 'POST', `/conversations/${conversationId}/messages`, {
          token: who.token,
          body: { body, idempotencyKey: crypto.randomUUID() },
        }),
      ),
    /** Finds or creates the direct conversation of two people; returns its id. */
    direct: (who: Person, other: Person) =>
      created(
        callApi(api.baseUrl, 'POST', '/conversations', {
          token: who.token,
          body: { kind: 'direct', userId: other.id },
        }),
      ),
    /** Creates a group owned by `owner`; returns its id. */
    group: (owner: Person, members: readonly Person[], title = 'A group') =>
      created(
        callApi(api.baseUrl, 'POST', '/conversations', {
          token: owner.token,
          body: { kind: 'group', title, memberIds: members.map((member) => member.id) },
        }),
      ),
    async dispose() {
      cacheAdmin.disconnect();
      await api.stop();
      await Promise.all([state.dispose(), cache.dispose()]);
      await database.drop();
    },
  };
}

export type PrivateApi<Name extends string> = Awaited<ReturnType<typeof startPrivateApi<Name>>>;
