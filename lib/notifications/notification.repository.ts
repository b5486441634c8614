import { firstRowOrNull, type Queryable } from '../postgres/transaction.js';
import type { DeliveredMessage, Notification, UnreadNotifications } from './notification.types.js';

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
  /**
   * Members of the message's conversation who may need a notification for it: everyone but
   * the sender who has not read it yet. Presence is decided by the caller.
   */
  async recipients(db: Queryable, message: DeliveredMessage): Promise<string[]> {
    const found = await db.query<{ user_id: string }>({
      // Named: parsed and planned once per connection (a delivery job runs it per message).
      name: 'notification-recipients',
      text: `SELECT user_id FROM conversation_members
       WHERE conversation_id = $1 AND user_id <> $2 AND last_read_seq < $3
       ORDER BY user_id`,
      values: [message.conversationId, message.senderId, message.seq],
    });
    return found.rows.map((row) => row.user_id);
  },

  /**
   * Adds `message` to each user's open notification of its conversation, opening one where
   * there is none. A notification covers the seq range [first_seq, last_seq] and counts the
   * messages of that range from others, so this is idempotent and order-free: a message inside
   * the range changes nothing (a re-run job, or one overtaken by a later message's job, which
   * counted it already); one outside widens the range and adds the messages it newly covers.
   * Concurrent jobs for the same member meet on the partial unique index (ON CONFLICT waits for
   * the other insert and then updates the row it made). Skipped for a member who has read the
   * message meanwhile, or whose notification covering it was read. Returns the users whose
   * notification changed.
   */
  async addMessage(
    db: Queryable,
    message: DeliveredMessage,
    userIds: readonly string[],
  ): Promise<string[]> {
    if (userIds.length === 0) return [];
    const changed = await db.query<{ user_id: string }>({
      name: 'notification-add-message',
      text: `INSERT INTO notifications AS n
         (user_id, conversation_id, unread_count, first_message_id, first_seq, last_message_id,
          last_seq)
       SELECT member.user_id, $1, 1, $2, $3, $2, $3
       FROM conversation_members member
       WHERE member.conversation_id = $1 AND member.user_id = ANY($4::uuid[])
         AND member.last_read_seq < $3
         AND NOT EXISTS (
           SELECT 1 FROM notifications done
           WHERE done.user_id = member.user_id AND done.conversation_id = $1
             AND done.read_at IS NOT NULL AND done.last_seq >= $3)
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
      values: [message.conversationId, message.id, message.seq, userIds],
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
