/**
 * The transactional outbox (issue 6): every write that must reach real-time clients, caches or
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

/** Something the relay hands every outbox row to, in id order, in batches. */
export interface OutboxConsumer {
  /** Stable name: the relay keeps one position per consumer, and metrics label by it. */
  name: string;
  /** Must be idempotent; a rejection makes the relay retry the same batch later (with
   *  backoff), so one consumer's failing receiver never skips or reorders events. */
  handle(events: readonly OutboxEvent[]): Promise<void>;
}
