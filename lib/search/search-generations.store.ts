import { randomBytes } from 'node:crypto';
import type { ChainableCommander } from 'ioredis';
import {
  type CacheRedisAccess,
  type CacheStoreOptions,
  cacheKey,
  cacheMetrics,
  cacheStoreAccess,
  execBatch,
  type NamespaceMetrics,
} from '../cache/index.js';
import { mgetAcrossSlots } from '../redis/slot-batches.js';
import { searchPolicy } from './search.policies.js';

/**
 * One "generation" per conversation in the cache Redis: a random token replaced after every
 * committed change to the conversation's messages (new, edited, deleted). Search results are
 * cached under keys that include the generations of the conversations they cover (see
 * message-search.service.ts), so replacing one token makes every cached result over that
 * conversation unreachable, for every member, with one SET.
 *
 * Tokens, not counters. A counter that is evicted or flushed starts again at 1 and could repeat
 * a value an old entry recorded, making that stale entry look fresh. A token missing when read
 * is minted afresh (SET NX, so a concurrent writer's token wins), and a fresh random token was
 * recorded by no entry: a lost generation (FLUSHALL, LRU eviction, expiry) always reads as
 * "changed", never as "unchanged".
 *
 * Keys: `<prefix>cache:search-generation:{search:generations}:<conversationId>`. All share one
 * hash tag so that a user's generations are read with one MGET on Redis Cluster too; each key is
 * a 16-byte string, written once per message, so the one slot they live in stays cheap.
 *
 * Never throws. A failed read returns undefined (the caller searches PostgreSQL without the
 * cache); a failed bump is counted in cache_errors_total{cache="search"} and leaves cached
 * results stale until their TTL (60 s, lib/cache/cache.policies.ts).
 */
export type SearchGenerationsOptions = CacheStoreOptions;

const GROUP = { hashTag: 'search', groupId: 'generations' } as const;

function newToken(): string {
  return randomBytes(8).toString('hex');
}

export class SearchGenerations {
  readonly #access: CacheRedisAccess;
  readonly #keyPrefix: string;
  readonly #metrics: NamespaceMetrics;

  constructor(options: SearchGenerationsOptions) {
    this.#access = cacheStoreAccess(
      options,
      'search-generations',
      'search generations unavailable: searches go to PostgreSQL uncached',
    );
    this.#keyPrefix = options.keyPrefix;
    this.#metrics = cacheMetrics(options.registry).forNamespace('search');
  }

  key(conversationId: string): string {
    return cacheKey(this.#keyPrefix, 'search-generation', conversationId, GROUP);
  }

  /** After a commit that changed the conversation's messages. Never throws. */
  async conversationChanged(conversationId: string): Promise<void> {
    try {
      await this.#access.call(() =>
        this.#access.redis.set(
          this.key(conversationId),
          newToken(),
          'PX',
          searchPolicy.generationTtlMs,
        ),
      );
      this.#access.answered();
    } catch (error) {
      // Deleted once Redis answers again (before any read through this process): a missing
      // token counts as changed, so a search cached before the outage is not served after it.
      this.#access.lost.remember([this.key(conversationId)]);
      this.#failed(error);
    }
  }

  /**
   * The current generation of each conversation, in order; missing ones are minted (one MGET,
   * plus one pipeline of SET NX GET only when some are missing). undefined when Redis cannot
   * answer: the caller must then not use the cache at all (counted as a miss).
   */
  async current(conversationIds: readonly string[]): Promise<string[] | undefined> {
    if (conversationIds.length === 0) return [];
    const keys = conversationIds.map((id) => this.key(id));
    try {
      const found = await this.#access.call(() => mgetAcrossSlots(this.#access.redis, keys));
      const missing = keys.flatMap((_key, index) => (found[index] === null ? [index] : []));
      if (missing.length > 0) {
        const minted = missing.map(() => newToken());
        const commands = missing.map((index, position) => {
          const key = keys[index] as string;
          return {
            key,
            queue: (pipeline: ChainableCommander) =>
              pipeline.set(
                key,
                minted[position] as string,
                'PX',
                searchPolicy.generationTtlMs,
                'NX',
                'GET',
              ),
          };
        });
        const replies = await this.#access.call(() => execBatch(this.#access.redis, commands));
        missing.forEach((index, position) => {
          // null: ours was stored; a string: another reader or a writer got there first.
          const previous = replies[position];
          found[index] = typeof previous === 'string' ? previous : (minted[position] as string);
        });
      }
      this.#access.answered();
      return found.map((token) => token as string);
    } catch (error) {
      this.#failed(error);
      // Answered by PostgreSQL, as a cache-aside read is when Redis cannot answer.
      this.#metrics.miss();
      return undefined;
    }
  }

  #failed(error: unknown) {
    this.#access.failed(() => this.#metrics.error(), error);
  }
}
