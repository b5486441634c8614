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
 *
 * Every row's content has one schema per type (below): the writer's input, and what the relay
 * checks before handing a row over. A row that fails it is dead-lettered, never handed over.
 */

import { z } from 'zod';
import { messageSchema, readReceiptSchema } from '../conversations/conversation.types.js';
import type { TraceCarrier } from '../observability/trace-context.js';

const messageChange = z.object({
  /** The message as committed by that change. */
  message: messageSchema,
  /** Who sent, edited or deleted it. */
  actorId: z.uuid(),
});
const membersChange = z.object({
  /** A new conversation is one member.added naming every member, its creator first. */
  userIds: z.array(z.uuid()).min(1),
  /** Who added or removed them; a member who left is their own actor. */
  actorId: z.uuid(),
});

/** Calls (lib/calls): what changed, never a media key (keys live only in Redis). */
const callChange = z.object({ callId: z.uuid() });
const callParticipantChange = callChange.extend({ userId: z.uuid(), at: z.iso.datetime() });

/**
 * The payload of each event type, one schema per type: what the services write
 * (OutboxWriter.append takes exactly this), what the relay validates every row against before
 * any consumer sees it, and what integrations receive under `data` (beside conversationId).
 * Messages and receipts are in their API shape (lib/conversations/conversation.types.ts).
 * Objects are not strict: a row written by a newer version with an extra field is still read.
 */
export const outboxPayloadSchemas = {
  'message.created': messageChange,
  'message.updated': messageChange,
  'message.deleted': messageChange,
  /** receipt.userId is the reader. */
  'receipt.advanced': z.object({ receipt: readReceiptSchema }),
  'member.added': membersChange,
  'member.removed': membersChange,
  'call.started': callChange.extend({ startedBy: z.uuid(), startedAt: z.iso.datetime() }),
  'call.participant-joined': callParticipantChange,
  'call.participant-left': callParticipantChange,
  'call.ended': callChange.extend({
    endedAt: z.iso.datetime(),
    reason: z.enum(['empty', 'ended_by_admin', 'room_finished']),
  }),
} as const;

/** What happened, named as integrations see it in webhook payloads. */
export type OutboxEventType = keyof typeof outboxPayloadSchemas;

export type OutboxPayloads = {
  [T in OutboxEventType]: z.infer<(typeof outboxPayloadSchemas)[T]>;
};

const outboxEventOf = <T extends OutboxEventType>(type: T) =>
  z.object({
    type: z.literal(type),
    /** The conversation concerned (every current type has one). */
    conversationId: z.uuid(),
    payload: outboxPayloadSchemas[type],
  });

/** An outbox row's content, whatever its type: the writer's input and the relay's check. */
export const newOutboxEventSchema = z.discriminatedUnion('type', [
  outboxEventOf('message.created'),
  outboxEventOf('message.updated'),
  outboxEventOf('message.deleted'),
  outboxEventOf('receipt.advanced'),
  outboxEventOf('member.added'),
  outboxEventOf('member.removed'),
  outboxEventOf('call.started'),
  outboxEventOf('call.participant-joined'),
  outboxEventOf('call.participant-left'),
  outboxEventOf('call.ended'),
]);

/** An outbox row before it is written: the database assigns id, occurredAt and the txid.
 *  Narrowed by `type`, so a producer cannot pair a type with another type's payload. */
export type NewOutboxEvent = z.input<typeof newOutboxEventSchema>;

/** A committed outbox row whose content passed newOutboxEventSchema (the relay checks every
 *  row; one that fails is dead-lettered, never handed over). Narrowed by `type`. */
export type OutboxEvent = z.output<typeof newOutboxEventSchema> & {
  /** bigserial as a decimal string: increases with insertion order. */
  id: string;
  /** ISO 8601, the commit's transaction time. */
  occurredAt: string;
  /** The trace this row's hand-over continues (W3C fields), when the write was traced; a
   *  consumer that enqueues jobs passes it on (lib/observability/trace-context.ts). */
  traceContext?: TraceCarrier;
};

/** The outbox rows of calls (lib/calls). */
export type CallOutboxEvent = Extract<
  OutboxEvent,
  { type: 'call.started' | 'call.participant-joined' | 'call.participant-left' | 'call.ended' }
>;

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
