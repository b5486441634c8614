import type { Pool } from 'pg';
import type { CacheNamespace } from '../cache/index.js';
import type { OutboxWriter } from '../outbox/outbox-writer.js';
import { inTransaction, type Queryable } from '../postgres/transaction.js';
import { conversationRepository } from './conversation.repository.js';
import type {
  Conversation,
  ConversationSummary,
  MemberRole,
  Membership,
} from './conversation.types.js';
import {
  ConversationConflictError,
  ConversationNotFoundError,
  ConversationPermissionError,
  UnknownMemberError,
} from './conversation-errors.js';
import { messageRepository } from './message.repository.js';
import { type MessagingEvents, noMessagingEvents } from './messaging-events.js';
import type { UnreadCountsService } from './unread-counts.service.js';

export interface ConversationCaches {
  /** Metadata and members, shared by every member (namespace `conversation`). */
  conversations: CacheNamespace<Conversation>;
  /** One user's role in one conversation, checked on every request (namespace `permissions`);
   *  id `<conversationId>:<userId>`. */
  permissions: CacheNamespace<Membership>;
}

export type NewConversation =
  | { kind: 'direct'; userId: string }
  | { kind: 'group'; title: string; memberIds: readonly string[] };

const managers: readonly MemberRole[] = ['owner', 'admin'];

/**
 * Conversations and their members. Authorization lives here, not at the edge: every method
 * takes the acting user, and a user who is not a member gets ConversationNotFoundError, the
 * same answer as for an id that does not exist. Every change commits to PostgreSQL first and
 * then invalidates the cached copies it made stale.
 */
export class ConversationService {
  readonly #postgres: Pool;
  readonly #caches: ConversationCaches;
  readonly #unread: UnreadCountsService;
  readonly #events: MessagingEvents;
  readonly #outbox: OutboxWriter | undefined;

  constructor(options: {
    postgres: Pool;
    caches: ConversationCaches;
    unread: UnreadCountsService;
    /** Live membership changes after each commit (the real-time publisher). */
    events?: MessagingEvents;
    /** Records each membership change in the same transaction (lib/outbox). */
    outbox?: OutboxWriter;
  }) {
    this.#postgres = options.postgres;
    this.#caches = options.caches;
    this.#unread = options.unread;
    this.#events = options.events ?? noMessagingEvents;
    this.#outbox = options.outbox;
  }

  /** The actor's membership; warm, one Redis GET. Throws ConversationNotFoundError. */
  async membership(conversationId: string, userId: string): Promise<Membership> {
    const membership = await this.#caches.permissions.get(`${conversationId}:${userId}`, () =>
      conversationRepository.membership(this.#postgres, conversationId, userId),
    );
    if (!membership) throw new ConversationNotFoundError(conversationId);
    return membership;
  }

  /** A direct conversation is found or created (one per pair, also under concurrency); a
   *  group is always created, the creator its owner. */
  async create(actorId: string, request: NewConversation): Promise<Conversation> {
    const others = request.kind === 'direct' ? [request.userId] : request.memberIds;
    if (request.kind === 'direct' && request.userId === actorId) {
      throw new ConversationConflictError('a direct conversation needs another person');
    }
    const wanted = [...new Set(others.filter((id) => id !== actorId))];
    const change = { added: [actorId, ...wanted], removed: [] };
    const { id, outboxId } = await inTransaction(this.#postgres, async (tx) => {
      const active = await conversationRepository.activeUsers(tx, wanted);
      const unknown = wanted.filter((userId) => !active.has(userId));
      if (unknown.length > 0) throw new UnknownMemberError(unknown);
      const id =
        request.kind === 'direct'
          ? (await conversationRepository.findOrCreateDirect(tx, actorId, request.userId)).id
          : await conversationRepository.createGroup(tx, actorId, request.title, wanted);
      return { id, outboxId: await this.#recordChange(tx, id, actorId, change) };
    });
    // "Not a member" may be cached for the people just added (a probe before creation).
    await this.#outbox?.settle(outboxId, await this.afterMembersChanged(id, change));
    return this.get(actorId, id);
  }

  async get(actorId: string, conversationId: string): Promise<Conversation> {
    // Membership and the conversation in one read: warm, one MGET (two GETs sent together on a
    // cluster, where the keys are in different slots). The conversation is returned only to a
    // member.
    const [membership, conversation] = await this.#caches.permissions.getWith(
      `${conversationId}:${actorId}`,
      () => conversationRepository.membership(this.#postgres, conversationId, actorId),
      this.#caches.conversations,
      conversationId,
      () => conversationRepository.findById(this.#postgres, conversationId),
    );
    if (!membership || !conversation) throw new ConversationNotFoundError(conversationId);
    return conversation;
  }

  /** The ids of my conversations, most recently active first (those I deleted for myself
   *  left out, as in the list): whom a presence change of mine concerns. */
  conversationIdsOf(userId: string): Promise<string[]> {
    return conversationRepository.visibleIdsOf(this.#postgres, userId);
  }

  /** My conversations, most recently active first, each with its latest message; those I
   *  deleted are left out until a newer message arrives. */
  async listMine(actorId: string): Promise<ConversationSummary[]> {
    const ids = await conversationRepository.visibleIdsOf(this.#postgres, actorId);
    if (ids.length === 0) return [];
    // From PostgreSQL, which the list query needs anyway: an MGET of cached conversations
    // would span Redis Cluster slots (the namespace has no per-user hash tag).
    const [conversations, latest] = await Promise.all([
      conversationRepository.findMany(this.#postgres, ids),
      messageRepository.latestOf(this.#postgres, ids),
    ]);
    return ids.flatMap((id) => {
      const conversation = conversations.get(id);
      return conversation ? [{ conversation, lastMessage: latest.get(id) ?? null }] : [];
    });
  }

  /** Owners and admins add people to groups; only an owner makes admins. */
  async addMember(
    actorId: string,
    conversationId: string,
    userId: string,
    role: Exclude<MemberRole, 'owner'>,
  ): Promise<Conversation> {
    const actor = await this.membership(conversationId, actorId);
    const conversation = await this.get(actorId, conversationId);
    if (conversation.kind === 'direct') {
      throw new ConversationConflictError('a direct conversation has exactly two members');
    }
    if (!managers.includes(actor.role)) {
      throw new ConversationPermissionError('only owners and admins add members');
    }
    if (role === 'admin' && actor.role !== 'owner') {
      throw new ConversationPermissionError('only the owner makes admins');
    }
    const change = { added: [userId], removed: [] };
    const outboxId = await inTransaction(this.#postgres, async (tx) => {
      const active = await conversationRepository.activeUsers(tx, [userId]);
      if (!active.has(userId)) throw new UnknownMemberError([userId]);
      await conversationRepository.lock(tx, conversationId);
      const added = await conversationRepository.addMember(tx, conversationId, userId, role);
      if (!added) throw new ConversationConflictError('already a member');
      return this.#recordChange(tx, conversationId, actorId, change);
    });
    await this.#outbox?.settle(outboxId, await this.afterMembersChanged(conversationId, change));
    return this.get(actorId, conversationId);
  }

  /** The owner removes anyone else; an admin removes plain members. */
  async removeMember(actorId: string, conversationId: string, userId: string): Promise<void> {
    const actor = await this.membership(conversationId, actorId);
    const conversation = await this.get(actorId, conversationId);
    if (conversation.kind === 'direct') {
      throw new ConversationConflictError('a direct conversation has exactly two members');
    }
    if (userId === actorId) throw new ConversationConflictError('use leave to leave');
    const target = conversation.members.find((member) => member.userId === userId);
    if (!managers.includes(actor.role)) {
      throw new ConversationPermissionError('only owners and admins remove members');
    }
    // Reveals membership only to managers, who see the member list anyway.
    if (!target) throw new ConversationConflictError('not a member');
    if (actor.role !== 'owner' && target.role !== 'member') {
      throw new ConversationPermissionError('only the owner removes owners and admins');
    }
    const change = { added: [], removed: [userId] };
    const outboxId = await inTransaction(this.#postgres, async (tx) => {
      await conversationRepository.lock(tx, conversationId);
      await conversationRepository.removeMember(tx, conversationId, userId);
      return this.#recordChange(tx, conversationId, actorId, change);
    });
    await this.#outbox?.settle(outboxId, await this.afterMembersChanged(conversationId, change));
  }

  /** Leaves a group; an owner who leaves hands the group to the longest-standing admin (or
   *  member). A direct conversation cannot be left, only deleted for oneself. */
  async leave(actorId: string, conversationId: string): Promise<void> {
    await this.membership(conversationId, actorId);
    const conversation = await this.get(actorId, conversationId);
    if (conversation.kind === 'direct') {
      throw new ConversationConflictError('a direct conversation is deleted, not left');
    }
    const change = { added: [], removed: [actorId] };
    const outboxId = await inTransaction(this.#postgres, async (tx) => {
      await conversationRepository.lock(tx, conversationId);
      await conversationRepository.removeMember(tx, conversationId, actorId);
      await conversationRepository.promoteSuccessorIfOwnerless(tx, conversationId);
      return this.#recordChange(tx, conversationId, actorId, change);
    });
    await this.#outbox?.settle(outboxId, await this.afterMembersChanged(conversationId, change));
    // The successor's cached role changed too.
    await this.#caches.permissions.invalidate(
      ...conversation.members.map((member) => `${conversationId}:${member.userId}`),
    );
  }

  /** Hides the conversation from the actor ("delete for me") until a newer message; then
   *  they see only what came after. Others are not affected. */
  async deleteForMe(actorId: string, conversationId: string): Promise<void> {
    await this.membership(conversationId, actorId);
    await inTransaction(this.#postgres, async (tx) => {
      // Under the send lock, so hidden_through_seq is exactly the last message committed.
      await conversationRepository.lock(tx, conversationId);
      await conversationRepository.deleteForUser(tx, conversationId, actorId);
    });
    await this.#caches.permissions.invalidate(`${conversationId}:${actorId}`);
    // What the delete hid is no longer unread.
    await this.#unread.invalidate(conversationId, [actorId]);
  }

  /**
   * What follows a committed membership change: the cached conversation, the cached roles and
   * unread counters of the people concerned, and the live event. Run right after the commit,
   * and again by the worker's outbox relay when the live event did not reach Redis. Resolves
   * whether it was published; never rejects for Redis.
   */
  async afterMembersChanged(
    conversationId: string,
    change: { added: readonly string[]; removed: readonly string[] },
  ): Promise<boolean> {
    const concerned = [...change.added, ...change.removed];
    await this.#caches.conversations.invalidate(conversationId);
    // "Not a member" may be cached for the people just added (a probe before creation).
    await this.#caches.permissions.invalidate(
      ...concerned.map((userId) => `${conversationId}:${userId}`),
    );
    // Someone removed and added again starts with a fresh receipt, so a counter left from
    // their earlier membership would be wrong.
    await this.#unread.invalidate(conversationId, concerned);
    return this.#events.membersChanged(conversationId, change);
  }

  /** The change's outbox row (member.added or member.removed), inside its transaction. */
  #recordChange(
    tx: Queryable,
    conversationId: string,
    actorId: string,
    change: { added: readonly string[]; removed: readonly string[] },
  ): Promise<string | undefined> {
    const added = change.added.length > 0;
    return (
      this.#outbox?.append(tx, {
        type: added ? 'member.added' : 'member.removed',
        conversationId,
        payload: { userIds: [...(added ? change.added : change.removed)], actorId },
      }) ?? Promise.resolve(undefined)
    );
  }
}
