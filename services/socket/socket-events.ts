import { z } from 'zod';
import { uuidField } from '../../lib/accounts/index.js';
import { idempotencyKeyField, messageBodyField } from '../../lib/conversations/message-fields.js';
import type { AckCodeOf, ProblemCode } from '../../lib/http/problem-codes.js';
import { policy } from '../../lib/policy/policy.js';

/*
 * What clients may send the gateway, one strict schema per event (unknown fields are refused,
 * as over HTTP). Every event takes one payload and an acknowledgement callback; the ack is
 * `{ ok: true, ...result }` or `{ ok: false, error: { code, message, retryAfterMs? } }`.
 * Events not listed here are counted and refused (`unknown_event`), never dispatched.
 *
 * The server's events are in lib/realtime/events.ts.
 */

const conversationIds = z
  .array(uuidField)
  .min(1)
  .max(policy.realtime.maxConversationsPerEvent)
  .transform((ids) => [...new Set(ids)]);

export const clientEventSchemas = {
  /** Subscribe to the live events of conversations (members only). */
  'conversation:join': z.strictObject({ conversationIds }),
  /** Stop receiving a conversation's live events. */
  'conversation:leave': z.strictObject({ conversationId: uuidField }),
  /** The conversation this tab shows (room presence); null when it shows none. */
  'conversation:view': z.strictObject({ conversationId: uuidField.nullable() }),
  /** Send a message: stored in PostgreSQL first, acked with the stored message. */
  'message:send': z.strictObject({
    conversationId: uuidField,
    body: messageBodyField,
    idempotencyKey: idempotencyKeyField,
  }),
  /** Mark read up to a message. */
  'message:read': z.strictObject({ conversationId: uuidField, upToMessageId: uuidField }),
  'typing:start': z.strictObject({ conversationId: uuidField }),
  'typing:stop': z.strictObject({ conversationId: uuidField }),
  /** Presence of up to 500 users, one Redis round trip. */
  'presence:query': z.strictObject({
    userIds: z.array(uuidField).min(1).max(policy.presence.maxBatchUsers),
  }),
  /** Reconnect catch-up: for each conversation the last message the client saw (null: none). */
  sync: z.strictObject({
    conversations: z
      .array(z.strictObject({ conversationId: uuidField, lastMessageId: uuidField.nullable() }))
      .min(1)
      .max(policy.realtime.maxConversationsPerEvent),
  }),
} as const;

export type ClientEventName = keyof typeof clientEventSchemas;
export type ClientEventPayload<E extends ClientEventName> = z.infer<(typeof clientEventSchemas)[E]>;

/** Stable codes of an ack error: the api's problem codes under their ack names (the one table
 *  in lib/http/problem-codes.ts), and `unknown_event`, which HTTP has no word for. */
export type AckErrorCode = 'unknown_event' | AckCodeOf<ProblemCode>;

export type Ack =
  | ({ ok: true } & Record<string, unknown>)
  | { ok: false; error: { code: AckErrorCode; message: string; retryAfterMs?: number } };
