/**
 * The transactional outbox: every write that must reach real-time clients, caches or
 * integrations inserts one outbox row in the same PostgreSQL transaction as the write itself.
 * After the commit the writing service tries the fast path at once (publish, cache updates);
 * the worker's relay later hands EVERY row to each consumer (lib/outbox/outbox-relay.ts), and
 * re-does the fast path for rows whose publication did not happen. So a message committed while
 * Redis was down still reaches every online member, every cache and every webhook once Redis
 * is back.
 *
 * Consumers must be idempotent: a row can be handed over more than once (a worker killed
 * mid-batch runs it again). Real-time clients deduplicate by the ids events carry.
 */

import type { Message, ReadReceipt } from '../conversations/conversation.types.js';

/** What happened, named as integrations see it in webhook payloads. */
export type OutboxEventType =
  | 'message.created'
  | 'message.updated'
  | 'message.deleted'
  | 'receipt.advanced'
  | 'member.added'
  | 'member.removed';

export interface OutboxEvent {
  /** bigserial as a decimal string: increases with insertion order. */
  id: string;
  type: OutboxEventType;
  /** The conversation concerned (every current type has one). */
  conversationId: string;
  /** The event's data as committed (a message, a receipt, member ids...). JSON. */
  payload: Record<string, unknown>;
  /** ISO 8601, the commit's transaction time. */
  occurredAt: string;
}

/**
 * The payload each type carries, as the services write it (lib/conversations): messages and
 * receipts in their API shape (conversation.types.ts), serialized to JSON.
 *   message.created | message.updated | message.deleted: { message: Message; actorId }
 *     (the message as committed by that change; actorId sent, edited or deleted it)
 *   receipt.advanced: { receipt: ReadReceipt } (receipt.userId is the reader)
 *   member.added | member.removed: { userIds: string[]; actorId } (a new conversation is one
 *     member.added naming every member, its creator first; a member who left is its actor)
 */
export interface OutboxPayloads {
  'message.created': { message: Message; actorId: string };
  'message.updated': { message: Message; actorId: string };
  'message.deleted': { message: Message; actorId: string };
  'receipt.advanced': { receipt: ReadReceipt };
  'member.added': { userIds: string[]; actorId: string };
  'member.removed': { userIds: string[]; actorId: string };
}

/** Something the relay hands every outbox row to, in id order, in batches. */
export interface OutboxConsumer {
  /** Stable name: the relay keeps one position per consumer, and metrics label by it. */
  name: string;
  /** Must be idempotent; a rejection makes the relay retry the same batch later (with
   *  backoff), so one consumer's failing receiver never skips or reorders events. */
  handle(events: readonly OutboxEvent[]): Promise<void>;
  /** Optional: hand a row over only once it is at least this old (ms, PostgreSQL's clock).
   *  The rows after it wait with it, so order is kept. The `realtime` consumer uses it to let
   *  the writer's own fast path finish first. */
  settleMs?: number;
}
