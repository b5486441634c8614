import type { Logger } from '../observability/logger.js';
import { isRedisReply } from '../redis/redis-breaker.js';
import type { RedisClient } from '../redis/redis-client.js';

/**
 * Invalidations that could not reach the cache Redis (a command timed out, the connection was
 * down, the breaker refused the call), deleted again before this process's next cache command
 * once Redis answers.
 *
 * Why: every write commits to PostgreSQL and then deletes the cached copies it made stale. A
 * restarted cache Redis is empty (no persistence), so a DEL lost while it was down costs
 * nothing; but a Redis that hung or was unreachable for a moment kept its entries, and without
 * this the old ones would be served again once it answers, until their TTL: an unread count for
 * up to a day, a first page of history without the new message for hours, a session that was
 * logged out for minutes (test/integration/degradation.test.ts, "cache Redis hung").
 *
 * Replaying first, before the command that found Redis answering again, means this process
 * never reads an entry it failed to invalidate. Other processes may, until this one sends its
 * next command (on a busy api, the next request). Bounded by
 * cacheRuntime.maxLostInvalidations; past the bound the TTLs are the only backstop, and that is
 * logged once.
 */
export class LostInvalidations {
  readonly #redis: RedisClient;
  readonly #logger: Logger;
  readonly #maxKeys: number;
  readonly #keys = new Set<string>();
  #replaying: Promise<void> | undefined;
  #overflowed = false;

  constructor(options: { redis: RedisClient; logger: Logger; maxKeys: number }) {
    this.#redis = options.redis;
    this.#logger = options.logger;
    this.#maxKeys = options.maxKeys;
  }

  /** True while some invalidation still has to be replayed. */
  get pending(): boolean {
    return this.#keys.size > 0;
  }

  /** Keys whose DEL (or overwrite) did not reach Redis. */
  remember(keys: Iterable<string>): void {
    for (const key of keys) {
      if (this.#keys.size >= this.#maxKeys && !this.#keys.has(key)) {
        if (!this.#overflowed) {
          this.#overflowed = true;
          this.#logger.error(
            { maxKeys: this.#maxKeys },
            'too many cache invalidations lost while Redis was not answering; some entries may be stale until their TTL',
          );
        }
        return;
      }
      this.#keys.add(key);
    }
  }

  /**
   * Deletes every remembered key through `send` (the caller's breaker). Never throws: while
   * Redis still cannot answer, the keys stay for the next attempt. Concurrent callers share
   * one replay.
   */
  async replay(send: (operation: () => Promise<unknown>) => Promise<unknown>): Promise<void> {
    if (this.#keys.size === 0) return;
    this.#replaying ??= this.#replayOnce(send).finally(() => {
      this.#replaying = undefined;
    });
    await this.#replaying;
  }

  async #replayOnce(send: (operation: () => Promise<unknown>) => Promise<unknown>) {
    const keys = [...this.#keys];
    try {
      // One DEL per key, sent together: the keys may live in different Redis Cluster slots.
      await send(() => Promise.all(keys.map((key) => this.#redis.del(key))));
    } catch (error) {
      // Redis answered with an error of its own: retrying the same DELs would answer the same.
      if (!isRedisReply(error)) return;
    }
    for (const key of keys) this.#keys.delete(key);
    this.#overflowed = false;
    this.#logger.info(
      { keys: keys.length },
      'cache invalidations lost while Redis was not answering were replayed',
    );
  }
}
