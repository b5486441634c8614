import type { CacheNamespace } from '../cache/index.js';
import type { ApiKeyIdentity, SessionIdentity, UserAccount } from './account.types.js';

/**
 * The three cache-aside namespaces of the accounts domain (lib/cache; TTLs in
 * lib/cache/cache.policies.ts), keyed by what a request presents. Redis trouble never surfaces
 * here: a namespace falls back to its loader.
 */
export interface AccountCaches {
  /** `session`, by the hex SHA-256 of the session token (never the token). */
  sessions: CacheNamespace<SessionIdentity>;
  /** `api-key`, by the hex SHA-256 of the API key. */
  apiKeys: CacheNamespace<ApiKeyIdentity>;
  /** `user-profile`, by user id. */
  profiles: CacheNamespace<UserAccount>;
}
