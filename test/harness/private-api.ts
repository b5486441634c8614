import { Redis } from 'ioredis';
import { createAccount, createConversation, loginAs, sendMessage } from './api-client.js';
import { generousRateLimits, startPrivateServers } from './private-servers.js';
import { type ServiceProcess, startService } from './service-process.js';
import { uniqueName } from './test-environment.js';

export interface Person {
  id: string;
  token: string;
}

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
  const servers = await startPrivateServers();
  const { database, state, cache } = servers;
  const keyPrefix = `quad:${uniqueName(options.label)}:`;
  const people = {} as Record<Name, Person>;
  for (const name of options.names) {
    people[name] = { id: (await createAccount(database.url, name)).id, token: '' };
  }
  const api: ServiceProcess = await startService(
    'api',
    servers.environment('api', { REDIS_KEY_PREFIX: keyPrefix, RATE_LIMITS: generousRateLimits }),
  );
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
      sendMessage(api.baseUrl, who.token, conversationId, body),
    /** Finds or creates the direct conversation of two people; returns its id. */
    direct: (who: Person, other: Person) =>
      createConversation(api.baseUrl, who.token, { kind: 'direct', userId: other.id }),
    /** Creates a group owned by `owner`; returns its id. */
    group: (owner: Person, members: readonly Person[], title = 'A group') =>
      createConversation(api.baseUrl, owner.token, {
        kind: 'group',
        title,
        memberIds: members.map((member) => member.id),
      }),
    async dispose() {
      cacheAdmin.disconnect();
      await api.stop();
      await servers.dispose();
    },
  };
}

export type PrivateApi<Name extends string> = Awaited<ReturnType<typeof startPrivateApi<Name>>>;
