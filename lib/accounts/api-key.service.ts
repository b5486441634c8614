import type { Pool } from 'pg';
import type { CacheNamespace } from '../cache/index.js';
import { policy } from '../policy/policy.js';
import type { ApiKeyIdentity, ApiKeySummary } from './account.types.js';
import { ApiKeyNotFoundError, UserNotFoundError } from './account-errors.js';
import { apiKeyRepository } from './api-key.repository.js';
import { isWellFormedApiKey, newApiKey, sha256 } from './secret-token.js';
import { userRepository } from './user.repository.js';

export interface NewApiKeyRequest {
  name: string;
  /** The account the key acts as. */
  userId: string;
  /** The admin creating it. */
  createdBy: string;
}

/** A request's proven API key and the cache key it was found under. */
export interface AuthenticatedApiKey extends ApiKeyIdentity {
  keyHash: string;
}

/**
 * API keys for integrations: hashed in PostgreSQL, validation cached in Redis by
 * the key's hash, revocation committed first and then evicted, so it is immediate.
 */
export class ApiKeyService {
  readonly #postgres: Pool;
  readonly #apiKeys: CacheNamespace<ApiKeyIdentity>;

  constructor(options: { postgres: Pool; apiKeys: CacheNamespace<ApiKeyIdentity> }) {
    this.#postgres = options.postgres;
    this.#apiKeys = options.apiKeys;
  }

  /** Creates a key acting as an active account. The key is in the result and nowhere else,
   *  ever: only its hash is stored. */
  async create(request: NewApiKeyRequest): Promise<{ key: string; apiKey: ApiKeySummary }> {
    const account = await userRepository.findById(this.#postgres, request.userId);
    if (!account || account.deactivatedAt !== null) throw new UserNotFoundError(request.userId);
    const { key, displayPrefix } = newApiKey();
    const apiKey = await apiKeyRepository.insert(this.#postgres, {
      name: request.name,
      keyHash: sha256(key),
      prefix: displayPrefix,
      userId: request.userId,
      createdBy: request.createdBy,
    });
    return { key, apiKey };
  }

  list(): Promise<ApiKeySummary[]> {
    return apiKeyRepository.list(this.#postgres);
  }

  async revoke(apiKeyId: string): Promise<void> {
    const hash = await apiKeyRepository.revoke(this.#postgres, apiKeyId);
    if (!hash) throw new ApiKeyNotFoundError(apiKeyId);
    await this.#apiKeys.invalidate(hash.toString('hex'));
  }

  /** The live key behind an X-Api-Key value, or undefined. Warm: Redis only. */
  async authenticate(key: string): Promise<AuthenticatedApiKey | undefined> {
    if (!isWellFormedApiKey(key)) return undefined;
    const hash = sha256(key);
    const keyHash = hash.toString('hex');
    const identity = await this.#apiKeys.get(keyHash, () =>
      apiKeyRepository.findLive(
        this.#postgres,
        hash,
        policy.accounts.sessions.lastSeenResolutionMs,
      ),
    );
    return identity ? { ...identity, keyHash } : undefined;
  }
}
