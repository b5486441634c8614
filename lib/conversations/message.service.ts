import type { Pool } from 'pg';
import type { OutboxWriter } from '../outbox/outbox-writer.js';
import { inTransaction, type Queryable } from '../postgres/transaction.js';
import type { ConversationService } from './conversation.service.js';
import type { HistoryPage, Message } from './conversation.types.js';
import {
  ConversationConflictError,
  ConversationPermissionError,
  MessageNotFoundError,
} from './conversation-errors.js';
import { isDuplicateSend, messageRepository } from './message.repository.js';
import { decodeCursor, encodeCursor } from './message-cursor.js';
import { type MessagingEvents, noMessagingEvents } from './messaging-events.js';
import { readReceiptRepository } from './read-receipt.repository.js';
import type { RecentMessagesStore } from './recent-messages.store.js';
import type { UnreadCountsService } from './unread-counts.service.js';

/** Where cached search results learn that a conversation's messages changed; never rejects
 *  (lib/search/search-generations.store.ts counts and swallows its Redis errors). */
export interface SearchIndex {
  conversationChanged(conversationId: string): Promise<void>;
}

/** A committed change to a message, as its outbox row records it (payload of message.*). */
export interface MessageChange {
  kind: 'created' | 'updated' | 'deleted';
  message: Message;
  /** Who sent, edited or deleted it. */
  actorId: string;
}

const outboxTypes = {
  created: 'message.created',
  updated: 'message.updated',
  deleted: 'message.deleted',
} as const;

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
  readonly #events: MessagingEvents;
  readonly #searchIndex: SearchIndex | undefined;
  readonly #outbox: OutboxWriter | undefined;

  constructor(options: {
    postgres: Pool;
    conversations: ConversationService;
    recent: RecentMessagesStore;
    unread: UnreadCountsService;
    /** Live delivery after each commit (the real-time publisher). */
    events?: MessagingEvents;
    /** Told after each commit that changed a conversation's messages (lib/search). */
    searchIndex?: SearchIndex;
    /** Records each change in the same transaction (lib/outbox), for the worker's relay. */
    outbox?: OutboxWriter;
  }) {
    this.#postgres = options.postgres;
    this.#conversations = options.conversations;
    this.#recent = options.recent;
    this.#unread = options.unread;
    this.#events = options.events ?? noMessagingEvents;
    this.#searchIndex = options.searchIndex;
    this.#outbox = options.outbox;
  }

  /** Stores a message once per (sender, idempotency key): a retry, even one racing the
   *  original, gets the stored message back. Returns whether this call created it. */
  async send(
    senderId: string,
    conversationId: string,
    input: { body: string; idempotencyKey: string },
  ): Promise<{ message: Message; created: boolean }> {
    await this.#conversations.membership(conversationId, senderId);
    let result: { message: Message; created: boolean; outboxId?: string };
    try {
      result = await inTransaction(this.#postgres, async (tx) => {
        const sent = await messageRepository.insertNext(tx, { conversationId, senderId, ...input });
        if (!sent.created) return sent;
        const change = { kind: 'created', message: sent.message, actorId: senderId } as const;
        return { ...sent, outboxId: await this.#recordChange(tx, change) };
      });
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
      const change = { kind: 'created', message: result.message, actorId: senderId } as const;
      await this.#outbox?.settle(result.outboxId, await this.afterCommit(change));
    }
    return { message: result.message, created: result.created };
  }

  /**
   * What follows a committed send, edit or delete: the recent-messages set, cached searches,
   * the unread counters, and the live event. Run by the service right after its commit, and
   * again by the worker's outbox relay for a change whose live event did not reach Redis
   * (`replay`): then the message is read again (a later edit or delete may have passed it) and
   * the recent-messages set is dropped rather than appended to. Resolves whether the live event
   * was published; never rejects for Redis.
   */
  async afterCommit(change: MessageChange, replay = false): Promise<boolean> {
    const { conversationId } = change.message;
    const message = replay
      ? ((await messageRepository.findInConversation(
          this.#postgres,
          conversationId,
          change.message.id,
        )) ?? change.message)
      : change.message;
    if (change.kind === 'created' && !replay) await this.#recent.append(message);
    else await this.#recent.invalidate(conversationId);
    await this.#searchIndex?.conversationChanged(conversationId);
    if (change.kind === 'created') {
      await this.#unread.messageAdded(conversationId, message.senderId);
      return this.#events.messageCreated(message);
    }
    // A deleted message no longer counts as unread for anyone who had not read it (the
    // delete's transaction bumped the conversation's unread version).
    if (change.kind === 'deleted') await this.#unread.messagesRemoved(conversationId);
    return this.#events.messageChanged(message);
  }

  /** The change's outbox row, inside its transaction; undefined without an outbox. */
  #recordChange(tx: Queryable, change: MessageChange): Promise<string | undefined> {
    return (
      this.#outbox?.append(tx, {
        type: outboxTypes[change.kind],
        conversationId: change.message.conversationId,
        payload: { message: change.message, actorId: change.actorId },
      }) ?? Promise.resolve(undefined)
    );
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
      const recent = await this.#latest(conversationId);
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

  /**
   * Reconnect catch-up: the messages after `lastSeenMessageId` (null: after everything, i.e.
   * from what this reader may see at all), oldest first, at most `limit`. `complete` is false
   * when more follow: ask again from the last one returned. Served from the recent-messages
   * cache when the gap lies inside it (the usual short disconnection), else from PostgreSQL.
   * Callers subscribe to live events first and catch up second, deduplicating by id, so a
   * message committed in between arrives one way or the other.
   */
  async since(
    readerId: string,
    conversationId: string,
    lastSeenMessageId: string | null,
    limit: number,
  ): Promise<{ messages: Message[]; complete: boolean }> {
    const { hiddenThroughSeq } = await this.#conversations.membership(conversationId, readerId);
    const recent = await this.#latest(conversationId);
    let afterSeq = hiddenThroughSeq;
    if (lastSeenMessageId !== null) {
      const seen =
        recent.find((message) => message.id === lastSeenMessageId) ??
        (await messageRepository.findInConversation(
          this.#postgres,
          conversationId,
          lastSeenMessageId,
        ));
      if (!seen) throw new MessageNotFoundError(lastSeenMessageId);
      afterSeq = Math.max(afterSeq, seen.seq);
    }
    const newestSeq = recent[0]?.seq ?? 0;
    const oldestCachedSeq = recent.at(-1)?.seq ?? Number.POSITIVE_INFINITY;
    // Sequence numbers have no gaps, so "the `limit` oldest after afterSeq" is a seq range.
    const messages =
      oldestCachedSeq <= afterSeq + 1
        ? recent
            .filter((message) => message.seq > afterSeq)
            .reverse()
            .slice(0, limit)
        : (
            await messageRepository.page(this.#postgres, conversationId, {
              beforeSeq: afterSeq + limit + 1,
              afterSeq,
              limit,
            })
          ).reverse();
    const lastSeq = messages.at(-1)?.seq ?? afterSeq;
    return { messages, complete: lastSeq >= newestSeq };
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
    const { edited, outboxId } = await inTransaction(this.#postgres, async (tx) => {
      const edited = await messageRepository.edit(tx, messageId, body);
      if (!edited) throw new MessageNotFoundError(messageId);
      const change = { kind: 'updated', message: edited, actorId: editorId } as const;
      return { edited, outboxId: await this.#recordChange(tx, change) };
    });
    const change = { kind: 'updated', message: edited, actorId: editorId } as const;
    await this.#outbox?.settle(outboxId, await this.afterCommit(change));
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
    const { deleted, outboxId } = await inTransaction(this.#postgres, async (tx) => {
      const deleted = await messageRepository.softDelete(tx, messageId);
      if (!deleted) return { deleted, outboxId: undefined };
      await readReceiptRepository.bumpUnreadVersion(tx, conversationId);
      const change = { kind: 'deleted', message: deleted, actorId } as const;
      return { deleted, outboxId: await this.#recordChange(tx, change) };
    });
    if (!deleted) {
      // Vanished meanwhile: nothing to announce, but the caches may still hold it.
      await this.#recent.invalidate(conversationId);
      return;
    }
    const change = { kind: 'deleted', message: deleted, actorId } as const;
    await this.#outbox?.settle(outboxId, await this.afterCommit(change));
  }

  /** The latest messages, newest first, from the recent-messages cache (filled from
   *  PostgreSQL on a miss). */
  #latest(conversationId: string): Promise<Message[]> {
    return this.#recent.latest(conversationId, (id, limit) =>
      messageRepository.page(this.#postgres, id, { beforeSeq: undefined, afterSeq: 0, limit }),
    );
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
