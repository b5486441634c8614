import { createHash, randomBytes } from 'node:crypto';
import { policy } from '../policy/policy.js';

/*
 * Session tokens and API keys: 256 random bits, base64url. Only their SHA-256 is stored
 * (PostgreSQL) or used as a cache key (Redis). A fast hash is right here, unlike for
 * passwords: nobody can enumerate 2^256 candidates, so there is nothing for a slow hash to
 * slow down, and a lookup must stay one index probe.
 */

const BASE64URL_LENGTH = Math.ceil((policy.accounts.sessions.tokenBytes * 8) / 6);

/** What a session token looks like; anything else is refused before any lookup. */
const sessionTokenPattern = new RegExp(`^[A-Za-z0-9_-]{${BASE64URL_LENGTH}}$`);

/** API keys carry a prefix so that secret scanners (and people) recognise a leaked one. */
export const API_KEY_PREFIX = 'qk_';
const apiKeyPattern = new RegExp(`^${API_KEY_PREFIX}[A-Za-z0-9_-]{${BASE64URL_LENGTH}}$`);
/** Characters of a key kept for display: the prefix and 8 random characters. */
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 8;

function randomSecret(): string {
  return randomBytes(policy.accounts.sessions.tokenBytes).toString('base64url');
}

export function sha256(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function newSessionToken(): string {
  return randomSecret();
}

export function isWellFormedSessionToken(token: string): boolean {
  return sessionTokenPattern.test(token);
}

export function newApiKey(): { key: string; displayPrefix: string } {
  const key = API_KEY_PREFIX + randomSecret();
  return { key, displayPrefix: key.slice(0, DISPLAY_PREFIX_LENGTH) };
}

export function isWellFormedApiKey(key: string): boolean {
  return apiKeyPattern.test(key);
}
