import type { Pool } from 'pg';
import type { CacheNamespace } from '../cache/index.js';
import { readReceiptRepository } from './read-receipt.repository.js';

/**
 * Unread counts per user and conversation, served from the cache Redis (namespace
 * `unread-counts`, grouped by user) and recomputed from PostgreSQL when missing.
 *
 * Reading: one user's counters share a hash tag (`{user:<id>}`), so the counts of all their
 * conversations are one MGET in one Redis Cluster slot, however many conversations; the
 * missing ones are recomputed by a single PostgreSQL query and written back.
 *
 * Keeping them correct: a change commits to PostgreSQL, then the affected counters are
 * invalidated, never incremented. An INCR on a missing key would create a counter of 1 where
 * the truth may be 7, and an INCR racing a recompute could be counted twice (the recompute
 * already saw the message). A DEL has neither problem: it also removes the lease of a
 * recompute in flight (cache-aside.ts), so a recompute that read PostgreSQL before the commit
 * cannot write its stale count back. The price is one recompute per member and conversation
 * after each message, a single indexed range count batched with their other misses.
 */
export class UnreadCountsService {
  readonly #postgres: Pool;
  readonly #counters: CacheNamespace<number>;

  constructor(options: { postgres: Pool; counters: CacheNamespace<number> }) {
    this.#postgres = options.postgres;
    this.#counters = options.counters;
  }

  /** Counts of `conversationIds` for `userId`, 0 for any the user is not a member of. One
   *  Redis round trip when warm. */
  async countsFor(
    userId: string,
    conversationIds: readonly string[],
  ): Promise<Map<string, number>> {
    const cached = await this.#counters
      .group(userId)
      .getMany(conversationIds, (missing) =>
        readReceiptRepository.unreadCounts(this.#postgres, userId, missing),
      );
    return new Map(conversationIds.map((id) => [id, cached.get(id) ?? 0]));
  }

  /** After a commit that changed what `userIds` have unread in the conversation (a message
   *  sent, deleted; a receipt moved; a per-user delete; a membership change). */
  async invalidate(conversationId: string, userIds: readonly string[]): Promise<void> {
    // Each user's counters live in their own slot: one DEL per user, sent together.
    await Promise.all(
      [...new Set(userIds)].map((userId) =>
        this.#counters.group(userId).invalidate(conversationId),
      ),
    );
  }
}
