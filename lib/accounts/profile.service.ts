import type { Pool } from 'pg';
import type { CacheNamespace } from '../cache/index.js';
import type { UserAccount } from './account.types.js';
import { UserNotFoundError } from './account-errors.js';
import { userRepository } from './user.repository.js';

export interface ProfileChanges {
  displayName?: string | undefined;
  bio?: string | undefined;
}

/** Reading profiles (through the `user-profile` cache) and updating one's own. */
export class ProfileService {
  readonly #postgres: Pool;
  readonly #profiles: CacheNamespace<UserAccount>;

  constructor(options: { postgres: Pool; profiles: CacheNamespace<UserAccount> }) {
    this.#postgres = options.postgres;
    this.#profiles = options.profiles;
  }

  /** Warm: one Redis GET, no PostgreSQL. Throws UserNotFoundError. */
  async get(userId: string): Promise<UserAccount> {
    const account = await this.#profiles.get(userId, () =>
      userRepository.findById(this.#postgres, userId),
    );
    if (!account) throw new UserNotFoundError(userId);
    return account;
  }

  /** Commits the change, then evicts the cached copy (never the other way round). */
  async update(userId: string, changes: ProfileChanges): Promise<UserAccount> {
    const updated = await userRepository.updateProfile(this.#postgres, userId, changes);
    if (!updated) throw new UserNotFoundError(userId);
    await this.#profiles.invalidate(userId);
    return updated;
  }
}
