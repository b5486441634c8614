import assert from 'node:assert/strict';
import type pg from 'pg';
import type { Reply } from './api-client.js';

/*
 * What PostgreSQL, the source of truth, says a user should be served: unread counts, receipts,
 * the first page of history and the conversation list, written here as plain SQL of their own
 * rather than through lib/conversations' repositories, so that a test comparing the api's
 * answers with these compares two independent derivations (the resilience tests: degradation,
 * FLUSHALL).
 */

type Queryable = Pick<pg.Pool, 'query'>;

/** The conversations in a user's list, most recently active first (a per-user delete hides a
 *  conversation until a newer message), each with its unread count and latest message id. */
export async function conversationListTruth(
  db: Queryable,
  userId: string,
): Promise<Array<{ id: string; unreadCount: number; lastMessageId: string | null }>> {
  const found = await db.query<{ id: string; unread: number; last_message_id: string | null }>(
    `SELECT c.id,
       (SELECT count(*)::int FROM messages msg
         WHERE msg.conversation_id = c.id
           AND msg.seq > greatest(m.last_read_seq, coalesce(d.hidden_through_seq, 0))
           AND msg.sender_id <> m.user_id
           AND msg.deleted_at IS NULL) AS unread,
       (SELECT msg.id FROM messages msg
         WHERE msg.conversation_id = c.id ORDER BY msg.seq DESC LIMIT 1) AS last_message_id
     FROM conversation_members m
     JOIN conversations c ON c.id = m.conversation_id
     LEFT JOIN conversation_deletions d ON d.conversation_id = c.id AND d.user_id = m.user_id
     WHERE m.user_id = $1 AND (d.user_id IS NULL OR c.last_message_seq > d.hidden_through_seq)
     ORDER BY coalesce(c.last_message_at, c.created_at) DESC, c.id DESC`,
    [userId],
  );
  return found.rows.map((row) => ({
    id: row.id,
    unreadCount: row.unread,
    lastMessageId: row.last_message_id,
  }));
}

/** A user's conversation list (ids, unread counts, last messages) and GET /me/unread, as
 *  served, equal a recompute from PostgreSQL; `get` calls the api as that user. */
export async function assertListAndUnreadMatch(
  sql: pg.Pool,
  userId: string,
  get: (path: string) => Promise<Reply>,
  label: string,
): Promise<void> {
  const truth = await conversationListTruth(sql, userId);
  const list = await get('/conversations');
  assert.equal(list.status, 200, `${label}'s list: ${JSON.stringify(list.body)}`);
  assert.deepEqual(
    (list.body.conversations as Array<Record<string, unknown>>).map((item) => ({
      id: item.id,
      unreadCount: item.unreadCount,
      lastMessageId: (item.lastMessage as { id: string } | null)?.id ?? null,
    })),
    truth,
    `${label}'s conversation list`,
  );
  const unread = await get('/me/unread');
  assert.deepEqual(
    unread.body.conversations,
    truth.map(({ id, unreadCount }) => ({ conversationId: id, unreadCount })),
    `${label}'s unread counts`,
  );
}

/** Every member's receipt of a conversation, by user id. */
export async function receiptsTruth(
  db: Queryable,
  conversationId: string,
): Promise<Map<string, { lastReadSeq: number; lastReadMessageId: string | null }>> {
  const found = await db.query<{ user_id: string; seq: string; message_id: string | null }>(
    `SELECT m.user_id, m.last_read_seq AS seq, msg.id AS message_id
     FROM conversation_members m
     LEFT JOIN messages msg ON msg.conversation_id = m.conversation_id AND msg.seq = m.last_read_seq
     WHERE m.conversation_id = $1`,
    [conversationId],
  );
  return new Map(
    found.rows.map((row) => [
      row.user_id,
      { lastReadSeq: Number(row.seq), lastReadMessageId: row.message_id },
    ]),
  );
}

/** A receipts answer of the api, in the shape of receiptsTruth. */
export function asReceiptsTruth(receipts: ReadonlyArray<Record<string, unknown>>) {
  return new Map(
    receipts.map((receipt) => [
      receipt.userId,
      { lastReadSeq: receipt.lastReadSeq, lastReadMessageId: receipt.lastReadMessageId },
    ]),
  );
}

export interface MessageTruth {
  id: string;
  senderId: string;
  body: string | null;
  edited: boolean;
  deleted: boolean;
}

/** The newest `limit` messages `userId` may see in a conversation (after their per-user
 *  delete), newest first. */
export async function historyTruth(
  db: Queryable,
  conversationId: string,
  userId: string,
  limit: number,
): Promise<MessageTruth[]> {
  const found = await db.query<{
    id: string;
    sender_id: string;
    body: string | null;
    edited: boolean;
    deleted: boolean;
  }>(
    `SELECT msg.id, msg.sender_id, msg.body, msg.edited_at IS NOT NULL AS edited,
       msg.deleted_at IS NOT NULL AS deleted
     FROM messages msg
     LEFT JOIN conversation_deletions d
       ON d.conversation_id = msg.conversation_id AND d.user_id = $2
     WHERE msg.conversation_id = $1 AND msg.seq > coalesce(d.hidden_through_seq, 0)
     ORDER BY msg.seq DESC
     LIMIT $3`,
    [conversationId, userId, limit],
  );
  return found.rows.map((row) => ({
    id: row.id,
    senderId: row.sender_id,
    body: row.body,
    edited: row.edited,
    deleted: row.deleted,
  }));
}

/** A history page as the api answers it, in the shape of historyTruth. */
export function asMessageTruth(messages: ReadonlyArray<Record<string, unknown>>): MessageTruth[] {
  return messages.map((message) => ({
    id: String(message.id),
    senderId: String(message.senderId),
    body: message.body === null ? null : String(message.body),
    edited: message.editedAt !== null,
    deleted: message.deletedAt !== null,
  }));
}

/** A poll's counts per option (in option order), its total and `userId`'s vote. */
export async function pollTruth(
  db: Queryable,
  pollId: string,
  userId: string,
): Promise<{ votes: Array<[string, number]>; totalVotes: number; myVote: string | null }> {
  const counts = await db.query<{ id: string; votes: number }>(
    `SELECT o.id, count(v.user_id)::int AS votes
     FROM poll_options o LEFT JOIN poll_votes v ON v.option_id = o.id AND v.poll_id = o.poll_id
     WHERE o.poll_id = $1 GROUP BY o.id, o.position ORDER BY o.position`,
    [pollId],
  );
  const mine = await db.query<{ option_id: string }>(
    'SELECT option_id FROM poll_votes WHERE poll_id = $1 AND user_id = $2',
    [pollId, userId],
  );
  const votes = counts.rows.map((row): [string, number] => [row.id, row.votes]);
  return {
    votes,
    totalVotes: votes.reduce((sum, [, count]) => sum + count, 0),
    myVote: mine.rows[0]?.option_id ?? null,
  };
}

/** A poll as the api answers it, in the shape of pollTruth. */
export function asPollTruth(poll: Record<string, unknown>) {
  return {
    votes: (poll.options as Array<{ id: string; votes: number }>).map(
      (option): [string, number] => [option.id, option.votes],
    ),
    totalVotes: poll.totalVotes,
    myVote: poll.myVote,
  };
}
