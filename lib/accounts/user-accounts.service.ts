import type { Pool } from 'pg';
import { inTransaction } from '../postgres/transaction.js';
import type { Role, UserAccount } from './account.types.js';
import type { AccountCaches } from './account-caches.js';
import { SelfDeactivationError, UserNotFoundError, WeakPasswordError } from './account-errors.js';
import { type AccountEvents, noAccountEvents } from './account-events.js';
import { apiKeyRepository } from './api-key.repository.js';
import type { PasswordHasher } from './password-hasher.js';
import { passwordProblems } from './password-strength.js';
import { sessionRepository } from './session.repository.js';
import { userRepository } from './user.repository.js';

export interface NewAccount {
  username: string;
  email: string;
  displayName: string;
  role: Role;
  password: string;
}

/**
 * Creates an account after checking the password's strength: the one way accounts come into
 * being, shared by the admin API and `quad admin create` (which has PostgreSQL but no Redis).
 * Throws WeakPasswordError or AccountConflictError.
 */
export async function registerAccount(
  postgres: Pool,
  hasher: PasswordHasher,
  account: NewAccount,
): Promise<UserAccount> {
  const problems = passwordProblems(account.password, account);
  if (problems.length > 0) throw new WeakPasswordError(problems);
  const passwordHash = await hasher.hash(account.password);
  return userRepository.insert(postgres, { ...account, passwordHash });
}

/** Account administration: creating and deactivating users. */
export class UserAccountsService {
  readonly #postgres: Pool;
  readonly #hasher: PasswordHasher;
  readonly #caches: AccountCaches;
  readonly #events: AccountEvents;

  constructor(options: {
    postgres: Pool;
    hasher: PasswordHasher;
    caches: AccountCaches;
    /** Disconnects a deactivated user's live sockets (the real-time publisher). */
    events?: AccountEvents;
  }) {
    this.#postgres = options.postgres;
    this.#hasher = options.hasher;
    this.#caches = options.caches;
    this.#events = options.events ?? noAccountEvents;
  }

  create(account: NewAccount): Promise<UserAccount> {
    return registerAccount(this.#postgres, this.#hasher, account);
  }

  /**
   * Deactivates an account and, in the same transaction, revokes its sessions. After the
   * commit its sessions, its API keys and its profile are evicted from the cache, so the very
   * next request with any of its credentials is refused. Idempotent.
   */
  async deactivate(actingUserId: string, userId: string): Promise<UserAccount> {
    if (actingUserId === userId) throw new SelfDeactivationError();
    const { account, tokenHashes, keyHashes } = await inTransaction(this.#postgres, async (tx) => {
      const deactivated = await userRepository.deactivate(tx, userId);
      if (!deactivated) throw new UserNotFoundError(userId);
      return {
        account: deactivated,
        tokenHashes: await sessionRepository.revokeAll(tx, userId),
        keyHashes: await apiKeyRepository.liveKeyHashesOf(tx, userId),
      };
    });
    await Promise.all([
      this.#caches.sessions.invalidate(...tokenHashes.map((hash) => hash.toString('hex'))),
      this.#caches.apiKeys.invalidate(...keyHashes.map((hash) => hash.toString('hex'))),
      this.#caches.profiles.invalidate(userId),
    ]);
    await this.#events.allSessionsRevoked(userId);
    return account;
  }
}
