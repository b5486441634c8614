import type { Pool } from 'pg';
import { cacheKey } from '../cache/index.js';
import type { RecentMessagesStore, UnreadCountsService } from '../conversations/index.js';
import { messageRepository } from '../conversations/index.js';
import type { Logger } from '../observability/logger.js';
import type { RedisClient } from '../redis/redis-client.js';

export interface WarmUpSettings {
  activeWithinHours: number;
  maxUsers: number;
  maxConversations: number;
  batchSize: number;
}

export interface WarmUpResult {
  /** false: the sentinel was there, the cache was not flushed, nothing was done. */
  warmed: boolean;
  users: number;
  conversations: number;
}

/**
 * Re-fills the cache Redis after it lost its contents (FLUSHALL, a restart without
 * persistence, a new instance), before users ask: the unread counts of recently active users
 * and the recent messages of recently active conversations, most recent first, bounded.
 *
 * How a flush is noticed: a sentinel key without TTL, set once the cache is warm. A FLUSHALL or
 * a restart removes it; so can an LRU eviction under memory pressure, which costs one bounded
 * warm-up, not a wrong answer. Nothing here is needed for correctness (every cache fills itself
 * from PostgreSQL on a miss); it only spares PostgreSQL the stampede of the first minutes.
 */
export class CacheWarmUp {
  readonly #postgres: Pool;
  readonly #cache: RedisClient;
  readonly #sentinel: string;
  readonly #unread: UnreadCountsService;
  readonly #recent: RecentMessagesStore;
  readonly #settings: WarmUpSettings;
  readonly #logger: Logger;

  constructor(options: {
    postgres: Pool;
    /** The cache Redis; a warm-up is skipped (and tried again next time) when it is away. */
    cache: RedisClient;
    keyPrefix: string;
    unread: UnreadCountsService;
    recent: RecentMessagesStore;
    settings: WarmUpSettings;
    logger: Logger;
  }) {
    this.#postgres = options.postgres;
    this.#cache = options.cache;
    this.#sentinel = cacheKey(options.keyPrefix, 'warm-up', 'sentinel');
    this.#unread = options.unread;
    this.#recent = options.recent;
    this.#settings = options.settings;
    this.#logger = options.logger.child({ component: 'cache-warm-up' });
  }

  /** Warms the cache if the sentinel is missing; sets it when done. */
  async run(): Promise<WarmUpResult> {
    // Claimed with NX, so of several workers checking at once only one warms; released if the
    // warm-up fails, so the next check tries again.
    const claimed = await this.#cache.set(
      this.#sentinel,
      `warming since ${new Date().toISOString()}`,
      'NX',
    );
    if (claimed !== 'OK') return { warmed: false, users: 0, conversations: 0 };
    try {
      const conversations = await this.#warmRecentMessages();
      const users = await this.#warmUnreadCounts();
      await this.#cache.set(this.#sentinel, `warm since ${new Date().toISOString()}`);
      this.#logger.info({ users, conversations }, 'cache warmed after a flush');
      return { warmed: true, users, conversations };
    } catch (error) {
      await this.#cache.del(this.#sentinel).catch(() => undefined);
      throw error;
    }
  }

  async #warmRecentMessages(): Promise<number> {
    const { activeWithinHours, maxConversations, batchSize } = this.#settings;
    const active = await this.#postgres.query<{ id: string }>(
      `SELECT id FROM conversations
       WHERE last_message_at > now() - make_interval(hours => $1)
       ORDER BY last_message_at DESC LIMIT $2`,
      [activeWithinHours, maxConversations],
    );
    const ids = active.rows.map((row) => row.id);
    for (let at = 0; at < ids.length; at += batchSize) {
      await Promise.all(
        ids.slice(at, at + batchSize).map((conversationId) =>
          this.#recent.latest(conversationId, (id, limit) =>
            messageRepository.page(this.#postgres, id, {
              beforeSeq: undefined,
              afterSeq: 0,
              limit,
            }),
          ),
        ),
      );
    }
    return ids.length;
  }

  async #warmUnreadCounts(): Promise<number> {
    const { activeWithinHours, maxUsers, batchSize } = this.#settings;
    // last_seen_at is refreshed when a session is loaded from PostgreSQL, so it trails real
    // activity by at most the session cache's lifetime: good enough to pick today's users.
    const active = await this.#postgres.query<{ user_id: string }>(
      `SELECT user_id FROM sessions
       WHERE revoked_at IS NULL AND expires_at > now()
         AND last_seen_at > now() - make_interval(hours => $1)
       GROUP BY user_id ORDER BY max(last_seen_at) DESC LIMIT $2`,
      [activeWithinHours, maxUsers],
    );
    const userIds = active.rows.map((row) => row.user_id);
    for (let at = 0; at < userIds.length; at += batchSize) {
      const batch = userIds.slice(at, at + batchSize);
      const memberships = await this.#postgres.query<{
        user_id: string;
        conversation_ids: string[];
      }>(
        `SELECT user_id, array_agg(conversation_id) AS conversation_ids FROM conversation_members
         WHERE user_id = ANY($1::uuid[]) GROUP BY user_id`,
        [batch],
      );
      await Promise.all(
        memberships.rows.map((row) => this.#unread.countsFor(row.user_id, row.conversation_ids)),
      );
    }
    return userIds.length;
  }
}
