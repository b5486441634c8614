import { firstRowOrNull, type Queryable } from '../postgres/transaction.js';
import type { Notification, UnreadNotifications } from './notification.types.js';

interface NotificationRow {
  id: string;
  conversation_id: string;
  unread_count: number;
  first_message_id: string;
  first_seq: string;
  last_message_id: string;
  last_seq: string;
  created_at: Date;
  updated_at: Date;
  read_at: Date | null;
}

const columns = `id, conversation_id, unread_count, first_message_id, first_seq, last_message_id,
  last_seq, created_at, updated_at, read_at`;

function toNotification(row: NotificationRow): Notification {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    unreadCount: row.unread_count,
    firstMessageId: row.first_message_id,
    firstSeq: Number(row.first_seq),
    lastMessageId: row.last_message_id,
    lastSeq: Number(row.last_seq),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    readAt: row.read_at?.toISOString() ?? null,
  };
}

/** Notifications in PostgreSQL (migrations/0007_outbox_notifications.sql). */
export const notificationRepository = {
  /** How far delivery has gone in the conversation (migrations/0012_big_rooms.sql); 0 when
   *  it never ran there. */
  async deliveredThrough(db: Queryable, conversationId: string): Promise<number> {
    const found = await db.query<{ seq: string }>({
      // Named: parsed and planned once per connection (every delivery job runs it first).
      name: 'delivery-progress',
      text: 'SELECT delivered_through_seq AS seq FROM delivery_progress WHERE conversation_id = $1',
      values: [conversationId],
    });
    return Number(found.rows[0]?.seq ?? 0);
  },

  /** The conversation's latest message, and its members who have not read it (who may need a
   *  notification; presence is decided by the caller). */
  async deliveryTarget(
    db: Queryable,
    conversationId: string,
  ): Promise<{ throughSeq: number; recipients: string[] }> {
    const found = await db.query<{ through_seq: string; recipients: string[] | null }>({
      name: 'delivery-target',
      text: `SELECT c.last_message_seq AS through_seq,
         (SELECT array_agg(m.user_id ORDER BY m.user_id) FROM conversation_members m
          WHERE m.conversation_id = c.id AND m.last_read_seq < c.last_message_seq) AS recipients
       FROM conversations c WHERE c.id = $1`,
      values: [conversationId],
    });
    const row = found.rows[0];
    return { throughSeq: Number(row?.through_seq ?? 0), recipients: row?.recipients ?? [] };
  },

  /** Inside the delivery transaction: the conversation's progress, locked until the commit,
   *  so that two jobs of one conversation take turns and the second sees what the first did. */
  async lockProgress(tx: Queryable, conversationId: string): Promise<number> {
    await tx.query(
      `INSERT INTO delivery_progress (conversation_id, delivered_through_seq) VALUES ($1, 0)
       ON CONFLICT (conversation_id) DO NOTHING`,
      [conversationId],
    );
    const found = await tx.query<{ seq: string }>(
      `SELECT delivered_through_seq AS seq FROM delivery_progress
       WHERE conversation_id = $1 FOR UPDATE`,
      [conversationId],
    );
    return Number(found.rows[0]?.seq ?? 0);
  },

  async advanceProgress(tx: Queryable, conversationId: string, throughSeq: number): Promise<void> {
    await tx.query(
      `UPDATE delivery_progress SET delivered_through_seq = $2
       WHERE conversation_id = $1 AND delivered_through_seq < $2`,
      [conversationId, throughSeq],
    );
  },

  /**
   * Adds the messages with seq in (afterSeq, throughSeq] to each user's open notification of
   * the conversation, opening one where there is none: for each user, the messages from others
   * after their receipt and after any notification of theirs already read. A notification
   * covers the seq range [first_seq, last_seq] and counts the messages of that range from
   * others, so this is idempotent and order-free: messages inside the range change nothing;
   * ones outside widen it and add what they newly cover. Concurrent writers for the same member
   * meet on the partial unique index (ON CONFLICT waits for the other insert and then updates
   * the row it made). Returns the users whose notification changed.
   */
  async addMessages(
    db: Queryable,
    conversationId: string,
    range: { afterSeq: number; throughSeq: number },
    userIds: readonly string[],
  ): Promise<string[]> {
    if (userIds.length === 0 || range.throughSeq <= range.afterSeq) return [];
    const changed = await db.query<{ user_id: string }>({
      name: 'notification-add-messages',
      text: `WITH member AS (
         SELECT m.user_id, greatest($2::bigint, m.last_read_seq, coalesce(
           (SELECT max(done.last_seq) FROM notifications done
            WHERE done.user_id = m.user_id AND done.conversation_id = $1
              AND done.read_at IS NOT NULL), 0)) AS after_seq
         FROM conversation_members m
         WHERE m.conversation_id = $1 AND m.user_id = ANY($4::uuid[]) AND m.last_read_seq < $3
       ), news AS (
         SELECT member.user_id, count(*)::int AS n, min(msg.seq) AS first_seq,
           max(msg.seq) AS last_seq
         FROM member JOIN messages msg
           ON msg.conversation_id = $1 AND msg.seq > member.after_seq AND msg.seq <= $3
           AND msg.sender_id <> member.user_id
         GROUP BY member.user_id
       )
       INSERT INTO notifications AS n
         (user_id, conversation_id, unread_count, first_message_id, first_seq, last_message_id,
          last_seq)
       SELECT news.user_id, $1, news.n, first_message.id, news.first_seq, last_message.id,
         news.last_seq
       FROM news
       JOIN messages first_message
         ON first_message.conversation_id = $1 AND first_message.seq = news.first_seq
       JOIN messages last_message
         ON last_message.conversation_id = $1 AND last_message.seq = news.last_seq
       ON CONFLICT (user_id, conversation_id) WHERE read_at IS NULL DO UPDATE SET
         unread_count = n.unread_count + (
           SELECT count(*)::int FROM messages m
           WHERE m.conversation_id = n.conversation_id AND m.sender_id <> n.user_id
             AND ((m.seq > n.last_seq AND m.seq <= EXCLUDED.last_seq)
               OR (m.seq >= EXCLUDED.first_seq AND m.seq < n.first_seq))),
         first_message_id = CASE WHEN EXCLUDED.first_seq < n.first_seq
           THEN EXCLUDED.first_message_id ELSE n.first_message_id END,
         first_seq = LEAST(n.first_seq, EXCLUDED.first_seq),
         last_message_id = CASE WHEN EXCLUDED.last_seq > n.last_seq
           THEN EXCLUDED.last_message_id ELSE n.last_message_id END,
         last_seq = GREATEST(n.last_seq, EXCLUDED.last_seq),
         updated_at = now()
       WHERE EXCLUDED.last_seq > n.last_seq OR EXCLUDED.first_seq < n.first_seq
       RETURNING user_id`,
      values: [conversationId, range.afterSeq, range.throughSeq, userIds],
    });
    return changed.rows.map((row) => row.user_id);
  },

  /** The user read the conversation through `seq`: a notification wholly read closes; one
   *  read in part keeps only what is still unread. */
  async conversationRead(
    db: Queryable,
    userId: string,
    conversationId: string,
    seq: number,
  ): Promise<void> {
    await db.query(
      `UPDATE notifications SET read_at = now(), updated_at = now()
       WHERE user_id = $1 AND conversation_id = $2 AND read_at IS NULL AND last_seq <= $3`,
      [userId, conversationId, seq],
    );
    await db.query(
      `UPDATE notifications n SET
         first_seq = $3 + 1,
         first_message_id = (SELECT id FROM messages WHERE conversation_id = $2 AND seq = $3 + 1),
         unread_count = (
           SELECT count(*)::int FROM messages m
           WHERE m.conversation_id = $2 AND m.sender_id <> $1 AND m.seq > $3
             AND m.seq <= n.last_seq),
         updated_at = now()
       WHERE user_id = $1 AND conversation_id = $2 AND read_at IS NULL
         AND first_seq <= $3 AND last_seq > $3`,
      [userId, conversationId, seq],
    );
  },

  /** Newest activity first; `before` is the id of the last one of the previous page (it must
   *  be the user's: null answer otherwise). */
  async page(
    db: Queryable,
    userId: string,
    page: { limit: number; before: string | undefined },
  ): Promise<Notification[] | null> {
    if (page.before !== undefined) {
      const cursor = await db.query('SELECT 1 FROM notifications WHERE id = $1 AND user_id = $2', [
        page.before,
        userId,
      ]);
      if (cursor.rowCount === 0) return null;
    }
    const found = await db.query<NotificationRow>(
      `SELECT ${columns} FROM notifications
       WHERE user_id = $1
         AND ($2::uuid IS NULL OR (updated_at, id) <
           (SELECT updated_at, id FROM notifications WHERE id = $2))
       ORDER BY updated_at DESC, id DESC
       LIMIT $3`,
      [userId, page.before ?? null, page.limit],
    );
    return found.rows.map(toNotification);
  },

  async isOwn(db: Queryable, userId: string, id: string): Promise<boolean> {
    const found = await db.query('SELECT 1 FROM notifications WHERE id = $1 AND user_id = $2', [
      id,
      userId,
    ]);
    return (found.rowCount ?? 0) > 0;
  },

  async unread(db: Queryable, userId: string): Promise<UnreadNotifications> {
    const found = await db.query<{ notifications: number; messages: number }>(
      `SELECT count(*)::int AS notifications, coalesce(sum(unread_count), 0)::int AS messages
       FROM notifications WHERE user_id = $1 AND read_at IS NULL`,
      [userId],
    );
    return found.rows[0] ?? { notifications: 0, messages: 0 };
  },

  /** Marks one of the user's notifications read (again: no change); null if not theirs. */
  async markRead(db: Queryable, userId: string, id: string): Promise<Notification | null> {
    const found = await db.query<NotificationRow>(
      `UPDATE notifications
       SET read_at = coalesce(read_at, now()),
           updated_at = CASE WHEN read_at IS NULL THEN now() ELSE updated_at END
       WHERE id = $1 AND user_id = $2
       RETURNING ${columns}`,
      [id, userId],
    );
    return firstRowOrNull(found, toNotification);
  },

  async markAllRead(db: Queryable, userId: string): Promise<number> {
    const updated = await db.query(
      `UPDATE notifications SET read_at = now(), updated_at = now()
       WHERE user_id = $1 AND read_at IS NULL`,
      [userId],
    );
    return updated.rowCount ?? 0;
  },
};
