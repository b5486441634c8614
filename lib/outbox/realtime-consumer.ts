import type { Pool } from 'pg';
import type {
  ConversationService,
  MessageService,
  ReadReceiptService,
} from '../conversations/index.js';
import { policy } from '../policy/policy.js';
import type { CallOutboxEvent, OutboxConsumer, OutboxEvent } from './outbox.types.js';

/** The live event of a row did not reach Redis: the relay retries the batch with backoff. */
export class RealtimeReplayError extends Error {
  constructor(readonly outboxId: string) {
    super(`outbox row ${outboxId}: the real-time publish did not reach Redis`);
    this.name = 'RealtimeReplayError';
  }
}

const messageKinds = {
  'message.created': 'created',
  'message.updated': 'updated',
  'message.deleted': 'deleted',
} as const;

/**
 * Built-in outbox consumer `realtime`: for each row whose fast path did not publish (Redis was
 * down when it committed, or the writer died in between), re-does that fast path through the
 * services' own post-commit steps (MessageService.afterCommit, ReadReceiptService.afterCommit,
 * ConversationService.afterMembersChanged: caches, unread counters, search, the live event),
 * then marks the row published. Rows are handed over only after policy.outbox.realtimeGraceMs,
 * so a writer's fast path still running is not doubled. Events carry their ids (messages,
 * receipts), so a client that got one twice ignores the second.
 */
export function realtimeConsumer(deps: {
  postgres: Pool;
  messages: MessageService;
  receipts: ReadReceiptService;
  conversations: ConversationService;
  /** Re-announces a call's change (lib/calls). Without it (no LiveKit configured, so no call
   *  can have started here) such a row counts as published. */
  calls?: { afterCommit(event: CallOutboxEvent): Promise<boolean> };
}): OutboxConsumer {
  const { postgres, messages, receipts, conversations, calls } = deps;

  /** Resolves whether the event was published. The relay validated the event against its
   *  type's schema, so every payload here is exactly what its writer committed. */
  async function replay(event: OutboxEvent): Promise<boolean> {
    switch (event.type) {
      case 'message.created':
      case 'message.updated':
      case 'message.deleted':
        return messages.afterCommit(
          {
            kind: messageKinds[event.type],
            message: event.payload.message,
            actorId: event.payload.actorId,
          },
          true,
        );
      case 'receipt.advanced':
        return receipts.afterCommit(event.conversationId, event.payload.receipt);
      case 'member.added':
        return conversations.afterMembersChanged(event.conversationId, {
          added: event.payload.userIds,
          removed: [],
        });
      case 'member.removed':
        return conversations.afterMembersChanged(event.conversationId, {
          added: [],
          removed: event.payload.userIds,
        });
      case 'call.started':
      case 'call.participant-joined':
      case 'call.participant-left':
      case 'call.ended':
        return calls ? calls.afterCommit(event) : true;
    }
  }

  return {
    name: 'realtime',
    settleMs: policy.outbox.realtimeGraceMs,
    async handle(events) {
      const pending = await postgres.query<{ id: string }>(
        'SELECT id::text FROM outbox WHERE id = ANY($1::bigint[]) AND published_at IS NULL',
        [events.map((event) => event.id)],
      );
      const unpublished = new Set(pending.rows.map((row) => row.id));
      for (const event of events) {
        if (!unpublished.has(event.id)) continue;
        if (!(await replay(event))) throw new RealtimeReplayError(event.id);
        await postgres.query(
          'UPDATE outbox SET published_at = now() WHERE id = $1 AND published_at IS NULL',
          [event.id],
        );
      }
    },
  };
}
