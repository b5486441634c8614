import { type Message, type MessageRow, toMessage } from '../conversations/index.js';
import type { Queryable } from '../postgres/transaction.js';
import { searchPolicy } from './search.policies.js';
import type { SearchPosition } from './search-cursor.js';

/** One conversation a user's search may read, and what their per-user delete hid in it. */
export interface SearchScope {
  conversationId: string;
  /** Messages with seq ≤ this are hidden from this user (0: none). */
  hiddenThroughSeq: number;
}

export interface SearchHit {
  message: Message;
  /** HTML: the escaped text around the matches, each match in <mark>…</mark>. */
  headline: string;
  /** The exact created_at (microseconds), for the cursor. */
  position: SearchPosition;
}

interface HitRow extends MessageRow {
  created_at_exact: string;
  headline: string;
}

/** Message search in PostgreSQL (migrations/0006_message_search.sql). */
export const messageSearchRepository = {
  /**
   * The conversations `userId` is a member of now (only `conversationId` when given), in id
   * order, with what their per-user delete hid. Conversations left or removed from are simply
   * not there.
   */
  async scopeOf(
    db: Queryable,
    userId: string,
    conversationId: string | undefined,
  ): Promise<SearchScope[]> {
    const found = await db.query<{ conversation_id: string; hidden_through_seq: string }>(
      `SELECT m.conversation_id, coalesce(d.hidden_through_seq, 0) AS hidden_through_seq
       FROM conversation_members m
       LEFT JOIN conversation_deletions d
         ON d.conversation_id = m.conversation_id AND d.user_id = m.user_id
       WHERE m.user_id = $1 AND ($2::uuid IS NULL OR m.conversation_id = $2)
       ORDER BY m.conversation_id`,
      [userId, conversationId ?? null],
    );
    return found.rows.map((row) => ({
      conversationId: row.conversation_id,
      hiddenThroughSeq: Number(row.hidden_through_seq),
    }));
  },

  /**
   * Messages of `scope` matching `query`, newest first by (created_at, id), strictly after
   * `after`, at most `limit`. Deleted messages never match (their vector is NULL; deleted_at is
   * checked too), nor do messages a per-user delete hid. Membership is checked again in the
   * same statement, so a user removed since `scope` was read gets nothing from that
   * conversation. The excerpt is computed for the returned rows only.
   */
  async search(
    db: Queryable,
    input: {
      userId: string;
      scope: readonly SearchScope[];
      query: string;
      after: SearchPosition | undefined;
      limit: number;
    },
  ): Promise<SearchHit[]> {
    if (input.scope.length === 0) return [];
    const found = await db.query<HitRow>(
      `WITH scope AS (
         SELECT * FROM unnest($1::uuid[], $2::bigint[]) AS s (conversation_id, hidden_through_seq)
       ), hits AS (
         SELECT m.id, m.conversation_id, m.seq, m.sender_id, m.body, m.created_at, m.edited_at,
                m.deleted_at
         FROM scope s
         JOIN conversation_members cm
           ON cm.conversation_id = s.conversation_id AND cm.user_id = $3
         JOIN messages m
           ON m.conversation_id = s.conversation_id AND m.seq > s.hidden_through_seq
         WHERE m.search_vector @@ message_search_query($4)
           AND m.deleted_at IS NULL
           AND ($5::timestamptz IS NULL OR (m.created_at, m.id) < ($5::timestamptz, $6::uuid))
         ORDER BY m.created_at DESC, m.id DESC
         LIMIT $7
       )
       SELECT hits.*,
              to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                AS created_at_exact,
              ts_headline('simple', message_search_text(body), message_search_query($4), $8)
                AS headline
       FROM hits
       ORDER BY created_at DESC, id DESC`,
      [
        input.scope.map((entry) => entry.conversationId),
        input.scope.map((entry) => entry.hiddenThroughSeq),
        input.userId,
        input.query,
        input.after?.createdAt ?? null,
        input.after?.id ?? null,
        input.limit,
        searchPolicy.headlineOptions,
      ],
    );
    return found.rows.map((row) => ({
      message: toMessage(row),
      headline: row.headline,
      position: { createdAt: row.created_at_exact, id: row.id },
    }));
  },
};
