import { firstRowOrNull, type Queryable } from '../postgres/transaction.js';
import type { Message } from './conversation.types.js';

/** A messages row as PostgreSQL returns it; toMessage reads it. */
export interface MessageRow {
  id: string;
  conversation_id: string;
  seq: string;
  sender_id: string;
  body: string | null;
  created_at: Date;
  edited_at: Date | null;
  deleted_at: Date | null;
}

const messageColumns =
  'id, conversation_id, seq, sender_id, body, created_at, edited_at, deleted_at';

export function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    seq: Number(row.seq),
    senderId: row.sender_id,
    body: row.body,
    createdAt: row.created_at.toISOString(),
    editedAt: row.edited_at?.toISOString() ?? null,
    deletedAt: row.deleted_at?.toISOString() ?? null,
  };
}

/** PostgreSQL's unique_violation on a sender's idempotency key. */
export function isDuplicateSend(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  return code === '23505' && constraint === 'messages_idempotency_key';
}

/** Messages in PostgreSQL. */
export const messageRepository = {
  async findBySendKey(db: Queryable, senderId: string, key: string): Promise<Message | null> {
    const found = await db.query<MessageRow>(
      `SELECT ${messageColumns} FROM messages WHERE sender_id = $1 AND idempotency_key = $2`,
      [senderId, key],
    );
    return firstRowOrNull(found, toMessage);
  },

  /**
   * Inside a transaction: locks the conversation row, then takes the next sequence number.
   * The lock makes sequence order commit order within a conversation, and makes a retried send
   * that raced the original see its committed row (checked again under the lock), so a retry
   * neither duplicates nor leaves a gap. Returns the stored message and whether it is new.
   */
  async insertNext(
    tx: Queryable,
    input: { conversationId: string; senderId: string; body: string; idempotencyKey: string },
  ): Promise<{ message: Message; created: boolean }> {
    await tx.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [input.conversationId]);
    const retried = await messageRepository.findBySendKey(tx, input.senderId, input.idempotencyKey);
    if (retried) return { message: retried, created: false };
    const inserted = await tx.query<MessageRow>(
      `WITH next AS (
         UPDATE conversations
         SET last_message_seq = last_message_seq + 1, last_message_at = now()
         WHERE id = $1
         RETURNING last_message_seq
       )
       INSERT INTO messages (conversation_id, seq, sender_id, body, idempotency_key)
       SELECT $1, last_message_seq, $2, $3, $4 FROM next
       RETURNING ${messageColumns}`,
      [input.conversationId, input.senderId, input.body, input.idempotencyKey],
    );
    const row = inserted.rows[0];
    if (!row) throw new Error('conversation vanished during send');
    return { message: toMessage(row), created: true };
  },

  async findInConversation(
    db: Queryable,
    conversationId: string,
    messageId: string,
  ): Promise<Message | null> {
    const found = await db.query<MessageRow>(
      `SELECT ${messageColumns} FROM messages WHERE conversation_id = $1 AND id = $2`,
      [conversationId, messageId],
    );
    return firstRowOrNull(found, toMessage);
  },

  /** Newest first: seq < beforeSeq and seq > afterSeq (what a per-user delete hid). */
  async page(
    db: Queryable,
    conversationId: string,
    range: { beforeSeq: number | undefined; afterSeq: number; limit: number },
  ): Promise<Message[]> {
    const found = await db.query<MessageRow>(
      `SELECT ${messageColumns} FROM messages
       WHERE conversation_id = $1 AND seq > $2 AND ($3::bigint IS NULL OR seq < $3)
       ORDER BY seq DESC
       LIMIT $4`,
      [conversationId, range.afterSeq, range.beforeSeq ?? null, range.limit],
    );
    return found.rows.map(toMessage);
  },

  /** The latest message of each conversation, for conversation lists. */
  async latestOf(db: Queryable, conversationIds: readonly string[]): Promise<Map<string, Message>> {
    const found = await db.query<MessageRow>(
      `SELECT ${messageColumns
        .split(', ')
        .map((column) => `m.${column}`)
        .join(', ')}
       FROM conversations c
       JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_message_seq
       WHERE c.id = ANY($1::uuid[])`,
      [conversationIds],
    );
    return new Map(found.rows.map((row) => [row.conversation_id, toMessage(row)]));
  },

  async edit(db: Queryable, messageId: string, body: string): Promise<Message | null> {
    const updated = await db.query<MessageRow>(
      `UPDATE messages SET body = $2, edited_at = now()
       WHERE id = $1 AND deleted_at IS NULL
       RETURNING ${messageColumns}`,
      [messageId, body],
    );
    return firstRowOrNull(updated, toMessage);
  },

  /** Soft delete: the row keeps its place in history; its words are gone. Idempotent. */
  async softDelete(db: Queryable, messageId: string): Promise<Message | null> {
    const updated = await db.query<MessageRow>(
      `UPDATE messages SET body = NULL, deleted_at = coalesce(deleted_at, now())
       WHERE id = $1
       RETURNING ${messageColumns}`,
      [messageId],
    );
    return firstRowOrNull(updated, toMessage);
  },
};
