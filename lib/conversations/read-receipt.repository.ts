import type { Queryable } from '../postgres/transaction.js';
import type { ReadReceipt } from './conversation.types.js';

interface ReceiptRow {
  user_id: string;
  last_read_seq: string;
  last_read_at: Date | null;
  last_read_message_id: string | null;
}

function toReceipt(row: ReceiptRow): ReadReceipt {
  return {
    userId: row.user_id,
    lastReadSeq: Number(row.last_read_seq),
    lastReadMessageId: row.last_read_message_id,
    readAt: row.last_read_at?.toISOString() ?? null,
  };
}

const receiptSelect = `
  SELECT m.user_id, m.last_read_seq, m.last_read_at, msg.id AS last_read_message_id
  FROM conversation_members m
  LEFT JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.seq = m.last_read_seq`;

/** A member's unread count as computed in one PostgreSQL snapshot: `count` messages were unread
 *  when the conversation's latest message was `throughSeq` and its unread version `version`. */
export interface UnreadBasis {
  count: number;
  throughSeq: number;
  version: number;
}

/** A conversation's latest sequence number and unread version. */
export interface UnreadHead {
  seq: number;
  version: number;
}

/** Read receipts (conversation_members.last_read_seq) and the unread counts derived from them. */
export const readReceiptRepository = {
  /** Raises the member's receipt to `seq`; never lowers it (a stale mark-read is a no-op).
   *  Returns the receipt as it stands afterwards, or null when not a member. */
  async advance(
    db: Queryable,
    conversationId: string,
    userId: string,
    seq: number,
  ): Promise<ReadReceipt | null> {
    await db.query(
      `UPDATE conversation_members SET last_read_seq = $3, last_read_at = now()
       WHERE conversation_id = $1 AND user_id = $2 AND last_read_seq < $3`,
      [conversationId, userId, seq],
    );
    const found = await db.query<ReceiptRow>(
      `${receiptSelect} WHERE m.conversation_id = $1 AND m.user_id = $2`,
      [conversationId, userId],
    );
    const row = found.rows[0];
    return row ? toReceipt(row) : null;
  },

  /** Every member's receipt, in membership order. */
  async ofConversation(db: Queryable, conversationId: string): Promise<ReadReceipt[]> {
    const found = await db.query<ReceiptRow>(
      `${receiptSelect} WHERE m.conversation_id = $1 ORDER BY m.joined_at, m.user_id`,
      [conversationId],
    );
    return found.rows.map(toReceipt);
  },

  /**
   * One query for all of `conversationIds`: messages after the user's receipt and after what
   * their per-user delete hid, sent by someone else, not deleted; with the conversation's latest
   * sequence number and unread version read in the same statement (one snapshot), which is what
   * the count is exact against. Conversations the user is not a member of are absent.
   */
  async unreadBases(
    db: Queryable,
    userId: string,
    conversationIds: readonly string[],
  ): Promise<Map<string, UnreadBasis>> {
    const found = await db.query<{
      conversation_id: string;
      unread: number;
      last_message_seq: string;
      unread_version: string;
    }>(
      `SELECT m.conversation_id, c.last_message_seq, c.unread_version,
         (SELECT count(*)::int FROM messages msg
          WHERE msg.conversation_id = m.conversation_id
            AND msg.seq > greatest(m.last_read_seq, coalesce(d.hidden_through_seq, 0))
            AND msg.sender_id <> m.user_id
            AND msg.deleted_at IS NULL) AS unread
       FROM conversation_members m
       JOIN conversations c ON c.id = m.conversation_id
       LEFT JOIN conversation_deletions d
         ON d.conversation_id = m.conversation_id AND d.user_id = m.user_id
       WHERE m.user_id = $1 AND m.conversation_id = ANY($2::uuid[])`,
      [userId, conversationIds],
    );
    return new Map(
      found.rows.map((row) => [
        row.conversation_id,
        {
          count: row.unread,
          throughSeq: Number(row.last_message_seq),
          version: Number(row.unread_version),
        },
      ]),
    );
  },

  /** Each conversation's latest sequence number and unread version; absent when it does not
   *  exist. */
  async unreadHeads(
    db: Queryable,
    conversationIds: readonly string[],
  ): Promise<Map<string, UnreadHead>> {
    const found = await db.query<{ id: string; last_message_seq: string; unread_version: string }>(
      `SELECT id, last_message_seq, unread_version FROM conversations WHERE id = ANY($1::uuid[])`,
      [conversationIds],
    );
    return new Map(
      found.rows.map((row) => [
        row.id,
        { seq: Number(row.last_message_seq), version: Number(row.unread_version) },
      ]),
    );
  },

  /** Inside the transaction of a change that can lower many members' counts at once (a message
   *  deleted): cached counts computed before it are recomputed (migrations/0012). */
  async bumpUnreadVersion(db: Queryable, conversationId: string): Promise<void> {
    await db.query('UPDATE conversations SET unread_version = unread_version + 1 WHERE id = $1', [
      conversationId,
    ]);
  },
};
