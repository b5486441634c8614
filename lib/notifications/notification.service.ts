import type { Pool } from 'pg';
import type { ReadTracker } from '../conversations/index.js';
import { policy } from '../policy/policy.js';
import { inTransaction, type Queryable } from '../postgres/transaction.js';
import { notificationRepository } from './notification.repository.js';
import type {
  DeliveredMessage,
  Notification,
  NotificationPage,
  UnreadNotifications,
} from './notification.types.js';
import {
  InvalidNotificationCursorError,
  NotificationNotFoundError,
} from './notification-errors.js';

/** What delivery needs to know about presence (lib/realtime/presence.ts's Presence). */
export interface PresenceLookup {
  readonly maxBatchUsers: number;
  /** null when unknown (Redis cannot answer). */
  presenceOf(userIds: readonly string[]): Promise<Map<string, { online: boolean }> | null>;
}

/**
 * In-app notifications: members who were offline when messages arrived have
 * one open notification per conversation that counts them. Opened and grown by the worker's
 * delivery job, listed and read by the user over the API, closed by reading the conversation
 * (the ReadTracker side, inside the receipt's transaction) or the notification itself. Every
 * method takes the acting user; another user's notification is NotificationNotFoundError.
 */
export class NotificationService implements ReadTracker {
  readonly #postgres: Pool;

  constructor(options: { postgres: Pool }) {
    this.#postgres = options.postgres;
  }

  async list(
    userId: string,
    page: { limit: number; cursor: string | undefined },
  ): Promise<NotificationPage> {
    const notifications = await notificationRepository.page(this.#postgres, userId, {
      limit: page.limit,
      before: page.cursor,
    });
    if (notifications === null) throw new InvalidNotificationCursorError();
    const last = notifications.at(-1);
    return {
      notifications,
      nextCursor: last && notifications.length === page.limit ? last.id : undefined,
    };
  }

  unread(userId: string): Promise<UnreadNotifications> {
    return notificationRepository.unread(this.#postgres, userId);
  }

  /** Throws NotificationNotFoundError unless the notification is the user's. */
  async requireOwn(userId: string, notificationId: string): Promise<void> {
    if (!(await notificationRepository.isOwn(this.#postgres, userId, notificationId))) {
      throw new NotificationNotFoundError(notificationId);
    }
  }

  async markRead(userId: string, notificationId: string): Promise<Notification> {
    const notification = await notificationRepository.markRead(
      this.#postgres,
      userId,
      notificationId,
    );
    if (!notification) throw new NotificationNotFoundError(notificationId);
    return notification;
  }

  markAllRead(userId: string): Promise<number> {
    return notificationRepository.markAllRead(this.#postgres, userId);
  }

  /** ReadTracker: inside the receipt's transaction (lib/conversations/read-receipt.service.ts). */
  conversationRead(
    tx: Queryable,
    userId: string,
    conversationId: string,
    throughSeq: number,
  ): Promise<void> {
    return notificationRepository.conversationRead(tx, userId, conversationId, throughSeq);
  }
}

/**
 * The delivery job's effect: every member who has not read a new message, did not send it and
 * is offline gets it added to their open notification. Presence comes from Redis in batches of
 * maxBatchUsers; when Redis cannot say, everyone counts as offline (a notification too many is
 * better than a missed one).
 *
 * Coalesced: a job handles every message of its conversation after the delivery progress
 * (migrations/0012_big_rooms.sql) up to the latest, and moves the progress in the same
 * transaction, so a burst into a big room costs one job's work (one member query, one presence
 * pass, one upsert), and the jobs of the messages it covered find their message delivered
 * already (one indexed read). Exactly once: the progress row is locked while a range is
 * delivered, so jobs of one conversation take turns; a job killed mid-way committed nothing,
 * and one re-run, overtaken or handed over twice finds its message covered.
 *
 * The progress this process has seen committed (or read) is also kept in memory, so most jobs
 * of a burst answer without PostgreSQL. That is safe because progress only ever moves forward:
 * a number remembered is a lower bound of the row's. Another worker's progress is not in this
 * memory, and then the row is read as before. The one way back is a database restored from an
 * older copy under a running worker: restart the worker with any restore (it forgets).
 */
export class MessageDelivery {
  readonly #postgres: Pool;
  readonly #presence: PresenceLookup;
  /** conversation id -> delivered through this seq (at least); oldest first. */
  readonly #progress = new Map<string, number>();
  readonly #progressCapacity: number;

  constructor(options: {
    postgres: Pool;
    presence: PresenceLookup;
    /** Default: policy.delivery.progressMemoryConversations. */
    progressMemoryConversations?: number;
  }) {
    this.#postgres = options.postgres;
    this.#presence = options.presence;
    this.#progressCapacity =
      options.progressMemoryConversations ?? policy.delivery.progressMemoryConversations;
  }

  /** Returns the users whose notification changed, and how many recipients were online. */
  async deliver(message: DeliveredMessage): Promise<{ notified: string[]; online: number }> {
    const { conversationId } = message;
    if ((this.#progress.get(conversationId) ?? 0) >= message.seq) {
      return { notified: [], online: 0 };
    }
    const delivered = await notificationRepository.deliveredThrough(this.#postgres, conversationId);
    this.#remember(conversationId, delivered);
    if (delivered >= message.seq) return { notified: [], online: 0 };
    const { throughSeq, recipients } = await notificationRepository.deliveryTarget(
      this.#postgres,
      conversationId,
    );
    const offline: string[] = [];
    let online = 0;
    for (let start = 0; start < recipients.length; start += this.#presence.maxBatchUsers) {
      const batch = recipients.slice(start, start + this.#presence.maxBatchUsers);
      const presence = await this.#presence.presenceOf(batch);
      for (const userId of batch) {
        if (presence?.get(userId)?.online === true) online += 1;
        else offline.push(userId);
      }
    }
    const outcome = await inTransaction(this.#postgres, async (tx) => {
      const afterSeq = await notificationRepository.lockProgress(tx, conversationId);
      // Another job delivered this range meanwhile (it waited for the lock): nothing to add.
      if (afterSeq >= Math.max(throughSeq, message.seq)) {
        return { notified: [], online, deliveredThrough: afterSeq };
      }
      const notified = await notificationRepository.addMessages(
        tx,
        conversationId,
        { afterSeq, throughSeq },
        offline,
      );
      await notificationRepository.advanceProgress(tx, conversationId, throughSeq);
      return { notified, online, deliveredThrough: Math.max(afterSeq, throughSeq) };
    });
    // Only after the commit: remembered progress must be progress PostgreSQL has.
    this.#remember(conversationId, outcome.deliveredThrough);
    return { notified: outcome.notified, online: outcome.online };
  }

  #remember(conversationId: string, deliveredThrough: number): void {
    const known = this.#progress.get(conversationId) ?? 0;
    // Re-inserted, so the Map's order is least recently advanced first.
    this.#progress.delete(conversationId);
    this.#progress.set(conversationId, Math.max(known, deliveredThrough));
    if (this.#progress.size > this.#progressCapacity) {
      const oldest = this.#progress.keys().next().value;
      if (oldest !== undefined) this.#progress.delete(oldest);
    }
  }
}
