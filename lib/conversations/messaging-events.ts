import type { Message, ReadReceipt } from './conversation.types.js';

/**
 * What the messaging services announce after a PostgreSQL commit, for whoever must hear it
 * live: the real-time publisher (lib/realtime/publisher.ts) turns these into Socket.IO events
 * through Redis. The services call these only after the commit, and an implementation never
 * rejects (it counts and logs its own failures): PostgreSQL already holds the truth.
 *
 * Each resolves whether the event reached Redis. The service marks its outbox row published
 * only then; otherwise the worker's outbox relay publishes it again once Redis answers
 * (lib/outbox/), so an online client gets it even if it was committed during an outage.
 */
export interface MessagingEvents {
  messageCreated(message: Message): Promise<boolean>;
  /** Edited or deleted (then body is null and deletedAt set). */
  messageChanged(message: Message): Promise<boolean>;
  /** A member's receipt moved; `unreadCount` is that member's count after it. */
  receiptAdvanced(
    conversationId: string,
    receipt: ReadReceipt,
    unreadCount: number,
  ): Promise<boolean>;
  /** Members added, or gone (removed or left): their live subscriptions follow. */
  membersChanged(
    conversationId: string,
    change: { added: readonly string[]; removed: readonly string[] },
  ): Promise<boolean>;
}

/** For services built without a real-time side (the CLI, unit tests of the domain): nothing
 *  is published, so outbox rows stay for the worker's relay to publish. */
export const noMessagingEvents: MessagingEvents = {
  messageCreated: async () => false,
  messageChanged: async () => false,
  receiptAdvanced: async () => false,
  membersChanged: async () => false,
};
