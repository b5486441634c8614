import type { Pool } from 'pg';
import { inTransaction } from '../postgres/transaction.js';
import type { ConversationService } from './conversation.service.js';
import type { HistoryPage, Message } from './conversation.types.js';
import {
  ConversationConflictError,
  ConversationNotFoundError,
  ConversationPermissionError,
  MessageNotFoundError,
} from './conversation-errors.js';
import { isDuplicateSend, messageRepository } from './message.repository.js';
import { decodeCursor, encodeCursor } from './message-cursor.js';
import { readReceiptRepository } from './read-receipt.repository.js';
import type { RecentMessagesStore } from './recent-messages.store.js';
import type { UnreadCountsService } from './unread-counts.service.js';

/**
 * Sending, editing, deleting and reading messages. PostgreSQL first, then the recent-messages
 * cache; membership (and what a per-user delete hid) from ConversationService, so a warm first
 * page of history is answered by Redis alone.
 */
export class MessageService {
  readonly #postgres: Pool;
  readonly #conversations: ConversationService;
  readonly #recent: RecentMessagesStore;
  readonly #unread: UnreadCountsService;

  constructor(options: {
    postgres: Pool;
    conversations: ConversationService;
    recent: RecentMessagesStore;
    unread: UnreadCountsService;
  }) {
    this.#postgres = options.postgres;
    this.#conversations = options.conversations;
    this.#recent = options.recent;
    this.#unread = options.unread;
  }

  /** Stores a message once per (sender, idempotency key): a retry, even one racing the
   *  original, gets the stored message back. Returns whether this call created it. */
  async send(
    senderId: string,
    conversationId: string,
    input: { body: string; idempotencyKey: string },
  ): Promise<{ message: Message; created: boolean }> {
    await this.#conversations.membership(conversationId, senderId);
    let result: { message: Message; created: boolean };
    try {
      result = await inTransaction(this.#postgres, (tx) =>
        messageRepository.insertNext(tx, { conversationId, senderId, ...input }),
      );
    } catch (error) {
      // The same key raced in through another conversation's lock: the stored one wins.
      if (!isDuplicateSend(error)) throw error;
      const stored = await messageRepository.findBySendKey(
        this.#postgres,
        senderId,
        input.idempotencyKey,
      );
      if (!stored) throw error;
      result = { message: stored, created: false };
    }
    const stored = result.message;
    if (stored.conversationId !== conversationId) {
      throw new ConversationConflictError('this idempotency key was used in another conversation');
    }
    // A retry carries the same text; a different one under a used key is a client bug that
    // would otherwise lose the new text silently. (Once edited or deleted, the stored text no
    // longer tells, and the retry just gets the message back.)
    if (
      !result.created &&
      stored.editedAt === null &&
      stored.deletedAt === null &&
      stored.body !== input.body
    ) {
      throw new ConversationConflictError('this idempotency key was used for another message');
    }
    if (result.created) {
      await this.#recent.append(result.message);
      // Own messages are never unread: only the other members' counters change.
      await this.#forgetUnreadCounts(senderId, conversationId, (userId) => userId !== senderId);
    }
    return result;
  }

  /** Newest first. Without a cursor (the first page) the messages come from the cache. */
  async history(
    readerId: string,
    conversationId: string,
    page: { limit: number; cursor: string | undefined },
  ): Promise<HistoryPage> {
    const { hiddenThroughSeq } = await this.#conversations.membership(conversationId, readerId);
    let messages: Message[];
    if (page.cursor === undefined) {
      const recent = await this.#recent.latest(conversationId, (id, limit) =>
        messageRepository.page(this.#postgres, id, { beforeSeq: undefined, afterSeq: 0, limit }),
      );
      messages = recent.filter((message) => message.seq > hiddenThroughSeq).slice(0, page.limit);
    } else {
      messages = await messageRepository.page(this.#postgres, conversationId, {
        beforeSeq: decodeCursor(page.cursor),
        afterSeq: hiddenThroughSeq,
        limit: page.limit,
      });
    }
    // Sequence numbers have no gaps (taken under the conversation lock in the transaction
    // that inserts), so older visible messages exist exactly when the oldest here is not the
    // first one this reader may see.
    const oldest = messages.at(-1);
    const nextCursor =
      oldest && oldest.seq > hiddenThroughSeq + 1 && messages.length === page.limit
        ? encodeCursor(oldest.seq)
        : undefined;
    return { messages, nextCursor };
  }

  /** Only the author edits, and not a deleted message. */
  async edit(
    editorId: string,
    conversationId: string,
    messageId: string,
    body: string,
  ): Promise<Message> {
    const message = await this.#visibleMessage(editorId, conversationId, messageId);
    if (message.senderId !== editorId) {
      throw new ConversationPermissionError('only the author edits a message');
    }
    if (message.deletedAt !== null) throw new MessageNotFoundError(messageId);
    const edited = await messageRepository.edit(this.#postgres, messageId, body);
    if (!edited) throw new MessageNotFoundError(messageId);
    await this.#recent.invalidate(conversationId);
    return edited;
  }

  /** The author, or an owner or admin of the conversation, deletes; the body is gone for
   *  everyone, the message keeps its place. Deleting twice is not an error. */
  async delete(actorId: string, conversationId: string, messageId: string): Promise<void> {
    const { role } = await this.#conversations.membership(conversationId, actorId);
    const message = await this.#visibleMessage(actorId, conversationId, messageId);
    if (message.senderId !== actorId && role === 'member') {
      throw new ConversationPermissionError('only the author or a conversation admin deletes');
    }
    await messageRepository.softDelete(this.#postgres, messageId);
    await this.#recent.invalidate(conversationId);
    // A deleted message no longer counts as unread for anyone who had not read it.
    await this.#forgetUnreadCounts(actorId, conversationId, () => true);
  }

  /** Invalidates the unread counters of the members that `affected` selects, after a commit.
   *  The member list comes from the cached conversation (one Redis GET when warm); if the
   *  actor was removed meanwhile, from PostgreSQL, so a committed change never answers 404. */
  async #forgetUnreadCounts(
    actorId: string,
    conversationId: string,
    affected: (userId: string) => boolean,
  ) {
    let memberIds: string[];
    try {
      const { members } = await this.#conversations.get(actorId, conversationId);
      memberIds = members.map((member) => member.userId);
    } catch (error) {
      if (!(error instanceof ConversationNotFoundError)) throw error;
      memberIds = await readReceiptRepository.memberIds(this.#postgres, conversationId);
    }
    await this.#unread.invalidate(conversationId, memberIds.filter(affected));
  }

  async #visibleMessage(userId: string, conversationId: string, messageId: string) {
    const { hiddenThroughSeq } = await this.#conversations.membership(conversationId, userId);
    const message = await messageRepository.findInConversation(
      this.#postgres,
      conversationId,
      messageId,
    );
    if (!message || message.seq <= hiddenThroughSeq) throw new MessageNotFoundError(messageId);
    return message;
  }
}
