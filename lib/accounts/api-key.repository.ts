import { type Queryable, returnedRow } from '../postgres/transaction.js';
import type { ApiKeyIdentity, ApiKeySummary, Role } from './account.types.js';
import { isoOrNull } from './row-mapping.js';

interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  user_id: string;
  created_by: string;
  created_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

const apiKeyColumns = 'id, name, prefix, user_id, created_by, created_at, revoked_at, last_used_at';

function toSummary(row: ApiKeyRow): ApiKeySummary {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    userId: row.user_id,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    revokedAt: isoOrNull(row.revoked_at),
    lastUsedAt: isoOrNull(row.last_used_at),
  };
}

export interface NewApiKey {
  name: string;
  keyHash: Buffer;
  prefix: string;
  userId: string;
  createdBy: string;
}

/** SQL for the api_keys table; callers pass the pool or a transaction's client. */
export const apiKeyRepository = {
  async insert(db: Queryable, key: NewApiKey): Promise<ApiKeySummary> {
    const result = await db.query<ApiKeyRow>(
      `INSERT INTO api_keys (name, key_hash, prefix, user_id, created_by)
       VALUES ($1, $2, $3, $4, $5) RETURNING ${apiKeyColumns}`,
      [key.name, key.keyHash, key.prefix, key.userId, key.createdBy],
    );
    return toSummary(returnedRow(result));
  },

  /** The identity behind a key hash if the key is live and its account active; refreshes
   *  last_used_at in the same round trip when it is older than `lastUsedResolutionMs`. */
  async findLive(
    db: Queryable,
    keyHash: Buffer,
    lastUsedResolutionMs: number,
  ): Promise<ApiKeyIdentity | null> {
    const result = await db.query<{ id: string; user_id: string; role: Role }>(
      `WITH found AS (
         SELECT k.id, k.user_id, u.role, k.last_used_at
         FROM api_keys k JOIN users u ON u.id = k.user_id
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND u.deactivated_at IS NULL
       ), touched AS (
         UPDATE api_keys SET last_used_at = now()
         WHERE id = (SELECT id FROM found)
           AND (last_used_at IS NULL OR last_used_at < now() - $2 * interval '1 millisecond')
       )
       SELECT id, user_id, role FROM found`,
      [keyHash, lastUsedResolutionMs],
    );
    const row = result.rows[0];
    return row ? { apiKeyId: row.id, userId: row.user_id, role: row.role } : null;
  },

  async list(db: Queryable): Promise<ApiKeySummary[]> {
    const result = await db.query<ApiKeyRow>(
      `SELECT ${apiKeyColumns} FROM api_keys ORDER BY created_at DESC, id`,
    );
    return result.rows.map(toSummary);
  },

  /** Revokes a key; returns its hash (to evict from the cache) or undefined if there is no
   *  such key. Revoking twice is not an error. */
  async revoke(db: Queryable, id: string): Promise<Buffer | undefined> {
    const result = await db.query<{ key_hash: Buffer }>(
      `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
       RETURNING key_hash`,
      [id],
    );
    return result.rows[0]?.key_hash;
  },

  /** Hashes of the live keys acting as a user: evicted from the cache when it is deactivated. */
  async liveKeyHashesOf(db: Queryable, userId: string): Promise<Buffer[]> {
    const result = await db.query<{ key_hash: Buffer }>(
      'SELECT key_hash FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL',
      [userId],
    );
    return result.rows.map((row) => row.key_hash);
  },
};
