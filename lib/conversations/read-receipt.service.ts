import type { Pool } from 'pg';
import { conversationRepository } from './conversation.repository.js';
import type { ConversationService } from './conversation.service.js';
import type { ReadReceipt, UnreadCount } from './conversation.types.js';
import { ConversationNotFoundError, MessageNotFoundError } from './conversation-errors.js';
import { messageRepository } from './message.repository.js';
import { readReceiptRepository } from './read-receipt.repository.js';
import type { UnreadCountsService } from './unread-counts.service.js';

/**
 * Read receipts and the unread counts that follow from them. Receipts commit to PostgreSQL
 * first; the reader's counter is invalidated after (see UnreadCountsService for why counters
 * are invalidated rather than set or incremented).
 */
export class ReadReceiptService {
  readonly #postgres: Pool;
  readonly #conversations: ConversationService;
  readonly #unread: UnreadCountsService;

  constructor(options: {
    postgres: Pool;
    conversations: ConversationService;
    unread: UnreadCountsService;
  }) {
    this.#postgres = options.postgres;
    this.#conversations = options.conversations;
    this.#unread = options.unread;
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
    const receipt = await readReceiptRepository.advance(
      this.#postgres,
      conversationId,
      readerId,
      message.seq,
    );
    // Removed between the membership check and the update.
    if (!receipt) throw new ConversationNotFoundError(conversationId);
    await this.#unread.invalidate(conversationId, [readerId]);
    return receipt;
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
