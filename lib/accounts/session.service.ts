import type { Pool } from 'pg';
import { policy } from '../policy/policy.js';
import type { SessionIdentity, SessionSummary, UserAccount } from './account.types.js';
import type { AccountCaches } from './account-caches.js';
import { InvalidCredentialsError, SessionNotFoundError } from './account-errors.js';
import { type AccountEvents, noAccountEvents } from './account-events.js';
import type { PasswordHasher } from './password-hasher.js';
import { isWellFormedSessionToken, newSessionToken, sha256 } from './secret-token.js';
import { sessionRepository } from './session.repository.js';
import { userRepository } from './user.repository.js';

export interface LoginAttempt {
  /** Already normalised (lib/accounts/account-fields.ts usernameField). */
  username: string;
  password: string;
  userAgent?: string | undefined;
  ip?: string | undefined;
}

export interface NewLogin {
  /** The bearer token: returned to the client once, never stored. */
  token: string;
  session: SessionSummary;
  user: UserAccount;
}

/** A request's proven session: its identity and the cache key it was found under. */
export interface AuthenticatedSession extends SessionIdentity {
  tokenHash: string;
}

/**
 * Login sessions: opaque random tokens, stored as SHA-256 hashes in PostgreSQL and cached in
 * Redis by that hash. A warm check is one Redis GET; revocation commits first and then evicts,
 * so the next request with a revoked token misses the cache and PostgreSQL says no.
 */
export class SessionService {
  readonly #postgres: Pool;
  readonly #hasher: PasswordHasher;
  readonly #caches: Pick<AccountCaches, 'sessions' | 'profiles'>;
  readonly #ttlMs: number;
  readonly #events: AccountEvents;

  constructor(options: {
    postgres: Pool;
    hasher: PasswordHasher;
    caches: Pick<AccountCaches, 'sessions' | 'profiles'>;
    /** Session lifetime from login (config.sessions.ttlMs). */
    ttlMs: number;
    /** Disconnects live sockets of revoked sessions (the real-time publisher). */
    events?: AccountEvents;
  }) {
    this.#postgres = options.postgres;
    this.#hasher = options.hasher;
    this.#caches = options.caches;
    this.#ttlMs = options.ttlMs;
    this.#events = options.events ?? noAccountEvents;
  }

  /**
   * Checks the password and opens a session. Unknown username, wrong password and deactivated
   * account all cost one argon2id verification and end in the same InvalidCredentialsError,
   * so neither the answer nor its timing tells which usernames exist. Rate limits (login-ip,
   * login-account) are applied by the caller before this is reached.
   */
  async login(attempt: LoginAttempt): Promise<NewLogin> {
    const candidate = await userRepository.findLoginCandidate(this.#postgres, attempt.username);
    const matches = candidate
      ? await this.#hasher.verify(candidate.passwordHash, attempt.password)
      : await this.#hasher.verifyWithoutAccount(attempt.password);
    if (!candidate || !matches || candidate.deactivated) throw new InvalidCredentialsError();

    const token = newSessionToken();
    const tokenHash = sha256(token);
    const session = await sessionRepository.insert(this.#postgres, {
      tokenHash,
      userId: candidate.id,
      expiresAt: new Date(Date.now() + this.#ttlMs),
      userAgent: attempt.userAgent?.slice(0, policy.accounts.sessions.maxUserAgentLength) ?? null,
      ip: attempt.ip ?? null,
    });
    // Committed: warm the cache so the client's first request is already a hit.
    await this.#caches.sessions.set(tokenHash.toString('hex'), {
      sessionId: session.id,
      userId: candidate.id,
      role: candidate.role,
      expiresAt: Date.parse(session.expiresAt),
    });
    const user = await this.#caches.profiles.get(candidate.id, () =>
      userRepository.findById(this.#postgres, candidate.id),
    );
    if (!user) throw new InvalidCredentialsError(); // deleted between the two statements
    return { token, session, user };
  }

  /** The live session behind a bearer token, or undefined. Warm: Redis only. */
  async authenticate(token: string): Promise<AuthenticatedSession | undefined> {
    if (!isWellFormedSessionToken(token)) return undefined;
    const hash = sha256(token);
    const tokenHash = hash.toString('hex');
    const identity = await this.#caches.sessions.get(tokenHash, () =>
      sessionRepository.findLive(
        this.#postgres,
        hash,
        policy.accounts.sessions.lastSeenResolutionMs,
      ),
    );
    // A cached copy carries its expiry, so it can never outlive the session.
    if (!identity || identity.expiresAt <= Date.now()) return undefined;
    return { ...identity, tokenHash };
  }

  list(userId: string): Promise<SessionSummary[]> {
    return sessionRepository.listLive(this.#postgres, userId);
  }

  /** Throws SessionNotFoundError unless the session is the user's (another user's session is
   *  "not found", exactly as one that does not exist). */
  async requireOwn(userId: string, sessionId: string): Promise<void> {
    if (!(await sessionRepository.belongsTo(this.#postgres, userId, sessionId))) {
      throw new SessionNotFoundError(sessionId);
    }
  }

  /** Revokes one of the user's sessions; another user's session is "not found". */
  async revoke(userId: string, sessionId: string): Promise<void> {
    const hash = await sessionRepository.revoke(this.#postgres, userId, sessionId);
    if (!hash) throw new SessionNotFoundError(sessionId);
    await this.#caches.sessions.invalidate(hash.toString('hex'));
    await this.#events.sessionRevoked(sessionId);
  }

  /** Revokes every session of the user, the current one included; returns how many. */
  async revokeAll(userId: string): Promise<number> {
    const hashes = await sessionRepository.revokeAll(this.#postgres, userId);
    await this.#caches.sessions.invalidate(...hashes.map((hash) => hash.toString('hex')));
    await this.#events.allSessionsRevoked(userId);
    return hashes.length;
  }
}
