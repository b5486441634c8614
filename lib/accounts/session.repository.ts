import { type Queryable, returnedRow } from '../postgres/transaction.js';
import type { Role, SessionIdentity, SessionSummary } from './account.types.js';

interface SessionSummaryRow {
  id: string;
  created_at: Date;
  expires_at: Date;
  last_seen_at: Date;
  user_agent: string | null;
  ip: string | null;
}

function toSummary(row: SessionSummaryRow): SessionSummary {
  return {
    id: row.id,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    lastSeenAt: row.last_seen_at.toISOString(),
    userAgent: row.user_agent,
    ip: row.ip,
  };
}

export interface NewSession {
  tokenHash: Buffer;
  userId: string;
  expiresAt: Date;
  userAgent: string | null;
  ip: string | null;
}

/** SQL for the sessions table; callers pass the pool or a transaction's client. */
export const sessionRepository = {
  async insert(db: Queryable, session: NewSession): Promise<SessionSummary> {
    const result = await db.query<SessionSummaryRow>(
      `INSERT INTO sessions (token_hash, user_id, expires_at, user_agent, ip)
       VALUES ($1, $2, $3, $4, $5)
       RETURNING id, created_at, expires_at, last_seen_at, user_agent, host(ip) AS ip`,
      [session.tokenHash, session.userId, session.expiresAt, session.userAgent, session.ip],
    );
    return toSummary(returnedRow(result));
  },

  /**
   * The identity behind a token hash if the session is live (not revoked, not expired, its
   * user not deactivated). In the same round trip, refreshes last_seen_at when it is older than
   * `lastSeenResolutionMs`, so a cache miss costs one statement and rarely a write.
   */
  async findLive(
    db: Queryable,
    tokenHash: Buffer,
    lastSeenResolutionMs: number,
  ): Promise<SessionIdentity | null> {
    const result = await db.query<{ id: string; user_id: string; role: Role; expires_at: Date }>(
      `WITH found AS (
         SELECT s.id, s.user_id, u.role, s.expires_at, s.last_seen_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
           AND u.deactivated_at IS NULL
       ), touched AS (
         UPDATE sessions SET last_seen_at = now()
         WHERE id = (SELECT id FROM found)
           AND last_seen_at < now() - $2 * interval '1 millisecond'
       )
       SELECT id, user_id, role, expires_at FROM found`,
      [tokenHash, lastSeenResolutionMs],
    );
    const row = result.rows[0];
    return row
      ? {
          sessionId: row.id,
          userId: row.user_id,
          role: row.role,
          expiresAt: row.expires_at.getTime(),
        }
      : null;
  },

  async listLive(db: Queryable, userId: string): Promise<SessionSummary[]> {
    const result = await db.query<SessionSummaryRow>(
      `SELECT id, created_at, expires_at, last_seen_at, user_agent, host(ip) AS ip
       FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
       ORDER BY created_at DESC, id`,
      [userId],
    );
    return result.rows.map(toSummary);
  },

  /** Whether the session is the user's (live or not). */
  async belongsTo(db: Queryable, userId: string, sessionId: string): Promise<boolean> {
    const result = await db.query('SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2', [
      sessionId,
      userId,
    ]);
    return result.rowCount === 1;
  },

  /** Revokes one of the user's sessions; returns its token hash (to evict from the cache), or
   *  undefined when the user has no such session. Revoking twice is not an error. */
  async revoke(db: Queryable, userId: string, sessionId: string): Promise<Buffer | undefined> {
    const result = await db.query<{ token_hash: Buffer }>(
      `UPDATE sessions SET revoked_at = coalesce(revoked_at, now())
       WHERE id = $1 AND user_id = $2 RETURNING token_hash`,
      [sessionId, userId],
    );
    return result.rows[0]?.token_hash;
  },

  /** Revokes every live session of the user; returns their token hashes. */
  async revokeAll(db: Queryable, userId: string): Promise<Buffer[]> {
    const result = await db.query<{ token_hash: Buffer }>(
      `UPDATE sessions SET revoked_at = now()
       WHERE user_id = $1 AND revoked_at IS NULL RETURNING token_hash`,
      [userId],
    );
    return result.rows.map((row) => row.token_hash);
  },
};
