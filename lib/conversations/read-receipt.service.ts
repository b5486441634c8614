import type { Pool } from 'pg';
import type { OutboxWriter } from '../outbox/outbox-writer.js';
import { inTransaction, type Queryable } from '../postgres/transaction.js';
import { conversationRepository } from './conversation.repository.js';
import type { ConversationService } from './conversation.service.js';
import type { ReadReceipt, UnreadCount } from './conversation.types.js';
import { ConversationNotFoundError, MessageNotFoundError } from './conversation-errors.js';
import { messageRepository } from './message.repository.js';
import { type MessagingEvents, noMessagingEvents } from './messaging-events.js';
import { readReceiptRepository } from './read-receipt.repository.js';
import type { UnreadCountsService } from './unread-counts.service.js';

/** Told inside the receipt's transaction that a member read a conversation through `seq`, so
 *  what tracks unread messages elsewhere (lib/notifications) moves with the receipt. */
export interface ReadTracker {
  conversationRead(
    tx: Queryable,
    userId: string,
    conversationId: string,
    throughSeq: number,
  ): Promise<void>;
}

/**
 * Read receipts and the unread counts that follow from them. Receipts commit to PostgreSQL
 * first; the reader's counter is invalidated after (see UnreadCountsService for why counters
 * are invalidated rather than set or incremented).
 */
export class ReadReceiptService {
  readonly #postgres: Pool;
  readonly #conversations: ConversationService;
  readonly #unread: UnreadCountsService;
  readonly #events: MessagingEvents;
  readonly #outbox: OutboxWriter | undefined;
  readonly #readTracker: ReadTracker | undefined;

  constructor(options: {
    postgres: Pool;
    conversations: ConversationService;
    unread: UnreadCountsService;
    /** Live receipts and unread counts after each commit (the real-time publisher). */
    events?: MessagingEvents;
    /** Records each receipt in the same transaction (lib/outbox), for the worker's relay. */
    outbox?: OutboxWriter;
    /** In-app notifications closed by reading (lib/notifications). */
    readTracker?: ReadTracker;
  }) {
    this.#postgres = options.postgres;
    this.#conversations = options.conversations;
    this.#unread = options.unread;
    this.#events = options.events ?? noMessagingEvents;
    this.#outbox = options.outbox;
    this.#readTracker = options.readTracker;
  }

  /** Marks read up to and including `upToMessageId`. Monotonic: a message older than the
   *  current receipt leaves it where it is (and answers it). A message the reader cannot see
   *  (another conversation's, or hidden by their per-user delete) is MessageNotFoundError. */
  async markRead(
    readerId: string,
    conversationId: string,
    upToMessageId: string,
  ): Promise<ReadReceipt> {
    const { hiddenThroughSeq } = await this.#conversations.membership(conversationId, readerId);
    const message = await messageRepository.findInConversation(
      this.#postgres,
      conversationId,
      upToMessageId,
    );
    if (!message || message.seq <= hiddenThroughSeq) throw new MessageNotFoundError(upToMessageId);
    const { receipt, outboxId } = await inTransaction(this.#postgres, async (tx) => {
      const receipt = await readReceiptRepository.advance(
        tx,
        conversationId,
        readerId,
        message.seq,
      );
      // Removed between the membership check and the update.
      if (!receipt) throw new ConversationNotFoundError(conversationId);
      await this.#readTracker?.conversationRead(tx, readerId, conversationId, receipt.lastReadSeq);
      const outboxId = await this.#outbox?.append(tx, {
        type: 'receipt.advanced',
        conversationId,
        payload: { receipt },
      });
      return { receipt, outboxId };
    });
    await this.#outbox?.settle(outboxId, await this.afterCommit(conversationId, receipt));
    return receipt;
  }

  /** What follows a committed receipt: the reader's counter, and the live receipt and count.
   *  Run right after the commit, and again by the worker's outbox relay when the live event
   *  did not reach Redis. Resolves whether it was published; never rejects for Redis. */
  async afterCommit(conversationId: string, receipt: ReadReceipt): Promise<boolean> {
    await this.#unread.invalidate(conversationId, [receipt.userId]);
    // The reader's other devices show the new count, the conversation the new receipt.
    const counts = await this.#unread.countsFor(receipt.userId, [conversationId]);
    return this.#events.receiptAdvanced(conversationId, receipt, counts.get(conversationId) ?? 0);
  }

  /** Every member's receipt, for members only. */
  async receipts(readerId: string, conversationId: string): Promise<ReadReceipt[]> {
    await this.#conversations.membership(conversationId, readerId);
    return readReceiptRepository.ofConversation(this.#postgres, conversationId);
  }

  /** Unread counts of every conversation in the reader's list (those deleted for themselves
   *  are left out, as in the list), most recently active first. */
  async myUnreadCounts(readerId: string): Promise<UnreadCount[]> {
    const ids = await conversationRepository.visibleIdsOf(this.#postgres, readerId);
    const counts = await this.#unread.countsFor(readerId, ids);
    return ids.map((conversationId) => ({
      conversationId,
      unreadCount: counts.get(conversationId) ?? 0,
    }));
  }
}
