import { firstRowOrNull, type Queryable, returnedRow } from '../postgres/transaction.js';
import type { Role, UserAccount } from './account.types.js';
import { AccountConflictError } from './account-errors.js';
import { isoOrNull } from './row-mapping.js';

interface UserRow {
  id: string;
  username: string;
  email: string;
  display_name: string;
  bio: string;
  role: Role;
  created_at: Date;
  updated_at: Date;
  deactivated_at: Date | null;
}

const userColumns =
  'id, username, email, display_name, bio, role, created_at, updated_at, deactivated_at';

function toAccount(row: UserRow): UserAccount {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    displayName: row.display_name,
    bio: row.bio,
    role: row.role,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    deactivatedAt: isoOrNull(row.deactivated_at),
  };
}

/** PostgreSQL's unique_violation, translated into the domain's words. */
function conflictFrom(error: unknown): AccountConflictError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  if (code !== '23505') return undefined;
  return new AccountConflictError(constraint === 'users_email_key' ? 'email' : 'username');
}

export interface NewUser {
  username: string;
  email: string;
  displayName: string;
  role: Role;
  passwordHash: string;
}

export interface LoginCandidate {
  id: string;
  role: Role;
  passwordHash: string;
  deactivated: boolean;
}

/** SQL for the users table; callers pass the pool or a transaction's client. */
export const userRepository = {
  async insert(db: Queryable, user: NewUser): Promise<UserAccount> {
    try {
      const result = await db.query<UserRow>(
        `INSERT INTO users (username, email, display_name, role, password_hash)
         VALUES ($1, $2, $3, $4, $5) RETURNING ${userColumns}`,
        [user.username, user.email, user.displayName, user.role, user.passwordHash],
      );
      return toAccount(returnedRow(result));
    } catch (error) {
      throw conflictFrom(error) ?? error;
    }
  },

  async findById(db: Queryable, id: string): Promise<UserAccount | null> {
    const result = await db.query<UserRow>(`SELECT ${userColumns} FROM users WHERE id = $1`, [id]);
    return firstRowOrNull(result, toAccount);
  },

  async findLoginCandidate(db: Queryable, username: string): Promise<LoginCandidate | null> {
    const result = await db.query<{
      id: string;
      role: Role;
      password_hash: string;
      deactivated: boolean;
    }>(
      `SELECT id, role, password_hash, deactivated_at IS NOT NULL AS deactivated
       FROM users WHERE username = $1`,
      [username],
    );
    const row = result.rows[0];
    return row
      ? {
          id: row.id,
          role: row.role,
          passwordHash: row.password_hash,
          deactivated: row.deactivated,
        }
      : null;
  },

  /** Applies the given fields; undefined fields keep their value. */
  async updateProfile(
    db: Queryable,
    id: string,
    changes: { displayName?: string | undefined; bio?: string | undefined },
  ): Promise<UserAccount | undefined> {
    const result = await db.query<UserRow>(
      `UPDATE users
       SET display_name = coalesce($2, display_name), bio = coalesce($3, bio), updated_at = now()
       WHERE id = $1 AND deactivated_at IS NULL
       RETURNING ${userColumns}`,
      [id, changes.displayName ?? null, changes.bio ?? null],
    );
    const row = result.rows[0];
    return row && toAccount(row);
  },

  /** Marks the account deactivated (idempotent: an earlier deactivation time is kept). */
  async deactivate(db: Queryable, id: string): Promise<UserAccount | undefined> {
    const result = await db.query<UserRow>(
      `UPDATE users SET deactivated_at = coalesce(deactivated_at, now()), updated_at = now()
       WHERE id = $1 RETURNING ${userColumns}`,
      [id],
    );
    const row = result.rows[0];
    return row && toAccount(row);
  },
};
