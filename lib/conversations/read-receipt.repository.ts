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
   * their per-user delete hid, sent by someone else, not deleted. Conversations the user is
   * not a member of are absent from the map.
   */
  async unreadCounts(
    db: Queryable,
    userId: string,
    conversationIds: readonly string[],
  ): Promise<Map<string, number>> {
    const found = await db.query<{ conversation_id: string; unread: number }>(
      `SELECT m.conversation_id, count(msg.id)::int AS unread
       FROM conversation_members m
       LEFT JOIN conversation_deletions d
         ON d.conversation_id = m.conversation_id AND d.user_id = m.user_id
       LEFT JOIN messages msg
         ON msg.conversation_id = m.conversation_id
         AND msg.seq > greatest(m.last_read_seq, coalesce(d.hidden_through_seq, 0))
         AND msg.sender_id <> m.user_id
         AND msg.deleted_at IS NULL
       WHERE m.user_id = $1 AND m.conversation_id = ANY($2::uuid[])
       GROUP BY m.conversation_id`,
      [userId, conversationIds],
    );
    return new Map(found.rows.map((row) => [row.conversation_id, row.unread]));
  },

  /** The members of a conversation (whose counters a new or deleted message changes). */
  async memberIds(db: Queryable, conversationId: string): Promise<string[]> {
    const found = await db.query<{ user_id: string }>(
      'SELECT user_id FROM conversation_members WHERE conversation_id = $1',
      [conversationId],
    );
    return found.rows.map((row) => row.user_id);
  },
};
