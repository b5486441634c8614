import type { Pool } from 'pg';
import type {
  ConversationService,
  Message,
  MessageService,
  ReadReceipt,
  ReadReceiptService,
} from '../conversations/index.js';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';
import type { OutboxConsumer, OutboxEvent } from './outbox.types.js';

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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

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
  logger: Logger;
}): OutboxConsumer {
  const { postgres, messages, receipts, conversations, logger } = deps;

  /** Resolves whether the event was published; undefined for a row it cannot read (logged,
   *  then left: retrying a malformed row would stop the consumer for good). */
  async function replay(event: OutboxEvent): Promise<boolean | undefined> {
    const { payload, conversationId } = event;
    switch (event.type) {
      case 'message.created':
      case 'message.updated':
      case 'message.deleted': {
        if (!isRecord(payload.message) || typeof payload.actorId !== 'string') return undefined;
        return messages.afterCommit(
          {
            kind: messageKinds[event.type],
            message: payload.message as unknown as Message,
            actorId: payload.actorId,
          },
          true,
        );
      }
      case 'receipt.advanced':
        if (!isRecord(payload.receipt)) return undefined;
        return receipts.afterCommit(conversationId, payload.receipt as unknown as ReadReceipt);
      case 'member.added':
      case 'member.removed': {
        if (!isStringArray(payload.userIds)) return undefined;
        const added = event.type === 'member.added' ? payload.userIds : [];
        const removed = event.type === 'member.removed' ? payload.userIds : [];
        return conversations.afterMembersChanged(conversationId, { added, removed });
      }
      default:
        return undefined;
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
        const published = await replay(event);
        if (published === undefined) {
          logger.error({ outboxId: event.id, type: event.type }, 'unreadable outbox row skipped');
          continue;
        }
        if (!published) throw new RealtimeReplayError(event.id);
        await postgres.query(
          'UPDATE outbox SET published_at = now() WHERE id = $1 AND published_at IS NULL',
          [event.id],
        );
      }
    },
  };
}
