import type { Registry } from 'prom-client';
import { jitteredTtl } from '../cache/cache.policies.js';
import { cacheKey } from '../cache/cache-key.js';
import { cacheMetrics, type NamespaceMetrics } from '../cache/cache-metrics.js';
import { CacheRedisAccess } from '../cache/cache-redis-access.js';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';
import { defineLuaScripts, loadLuaScripts } from '../redis/lua-scripts.js';
import type { RedisBreaker } from '../redis/redis-breaker.js';
import type { RedisClient } from '../redis/redis-client.js';
import type { PollCounts } from './poll.repository.js';

/**
 * The results of each poll in the cache Redis: one hash per poll,
 * `<prefix>cache:poll-results:{poll:<pollId>}:results`, one field per option id holding its
 * count, and `version`, the poll's version (polls.version) those counts belong to. Hits and
 * misses are counted under the cache namespace `poll-results`.
 *
 * Always equal to PostgreSQL, at a version. The hash is written two ways, each exact:
 * - a rebuild (fill) writes the counts of one PostgreSQL snapshot with that snapshot's version,
 *   and only over a hash that is missing or older (poll-results-fill-1.lua);
 * - a vote, after it committed as version N, applies its delta (−1 on the option left, +1 on
 *   the option chosen) only to a hash at N−1 (poll-results-apply-1.lua): votes on one poll are
 *   serialised by its row lock, so the delta of N is exactly the difference between N−1 and N.
 * So whatever the hash holds is what a GROUP BY would have answered at its version. A reader
 * compares that version with the one it read from PostgreSQL in the same request and uses the
 * counts only when they are at least as new; otherwise (a delta lost while Redis was
 * unreachable, a rebuild that raced a vote) it rebuilds. A FLUSHALL or an eviction costs one
 * GROUP BY per poll; no vote lives only here.
 *
 * Every Redis call goes through the cache Redis' breaker, bounded by the client's command
 * timeout; every failure is counted and swallowed: reads fall back to PostgreSQL, votes have
 * committed already.
 */

const VERSION_FIELD = 'version';

const scripts = loadLuaScripts(import.meta.url, {
  apply: 'poll-results-apply-1.lua',
  fill: 'poll-results-fill-1.lua',
});

export interface PollResultsOptions {
  /** The cache Redis (role `command`); never created or closed here. */
  redis: RedisClient;
  keyPrefix: string;
  registry: Registry;
  logger: Logger;
  /** The cache Redis' breaker, so a dead Redis costs a read nothing. */
  breaker?: RedisBreaker;
}

export class PollResultsStore {
  readonly #access: CacheRedisAccess;
  readonly #keyPrefix: string;
  readonly #metrics: NamespaceMetrics;

  constructor(options: PollResultsOptions) {
    this.#access = new CacheRedisAccess({
      redis: options.redis,
      breaker: options.breaker,
      logger: options.logger.child({ component: 'poll-results' }),
      bypassedMessage: 'poll results cache bypassed: results are counted in PostgreSQL',
    });
    defineLuaScripts(options.redis, scripts);
    this.#keyPrefix = options.keyPrefix;
    this.#metrics = cacheMetrics(options.registry).forNamespace('poll-results');
  }

  /** The poll's hash; the hash tag keeps the key in one Redis Cluster slot per poll. */
  key(pollId: string): string {
    return cacheKey(this.#keyPrefix, 'poll-results', 'results', {
      hashTag: 'poll',
      groupId: pollId,
    });
  }

  /**
   * The counts of `optionIds` (one Map entry each) at a version ≥ `atLeastVersion`, from the
   * hash; on a miss, a stale hash or a Redis failure, from `rebuild` (PostgreSQL), written
   * back when Redis answers.
   */
  async counts(
    pollId: string,
    atLeastVersion: number,
    optionIds: readonly string[],
    rebuild: () => Promise<PollCounts | null>,
  ): Promise<Map<string, number>> {
    const key = this.key(pollId);
    let redisAnswers = true;
    try {
      const hash = await this.#access.call(() => this.#access.redis.hgetall(key));
      this.#access.answered();
      const cached = usable(hash, atLeastVersion, optionIds);
      if (cached) {
        this.#metrics.hit();
        return cached;
      }
    } catch (error) {
      redisAnswers = false;
      this.#failed(error);
    }
    this.#metrics.miss();
    const rebuilt = await rebuild();
    // Deleted between the caller's read and this one: nothing to count or cache.
    if (!rebuilt) return new Map(optionIds.map((id) => [id, 0]));
    if (redisAnswers) {
      const pairs = [...rebuilt.votes].flat();
      try {
        await this.#access.runScript(
          scripts.fill,
          key,
          rebuilt.version,
          jitteredTtl(policy.polls.resultsTtlMs, policy.polls.resultsTtlJitter),
          ...pairs,
        );
      } catch (error) {
        this.#failed(error);
      }
    }
    return new Map(optionIds.map((id) => [id, rebuilt.votes.get(id) ?? 0]));
  }

  /** After a vote committed as `version`. Never throws; a delta that cannot be applied is
   *  harmless: the hash stays at an older version, which readers refuse and rebuild. */
  async applyVote(
    pollId: string,
    version: number,
    from: string | null,
    to: string | null,
  ): Promise<void> {
    try {
      await this.#access.runScript(scripts.apply, this.key(pollId), version, from ?? '', to ?? '');
    } catch (error) {
      this.#failed(error);
      // The script may or may not have run (a timeout); either way the hash is consistent at
      // its own version. Dropping it spares readers the refused hit.
      try {
        await this.#access.call(() => this.#access.redis.del(this.key(pollId)));
      } catch {
        // Counted above; the version check covers it.
      }
    }
  }

  #failed(error: unknown) {
    this.#access.failed(() => this.#metrics.error(), error);
  }
}

/** The counts in `hash` if it is at `atLeastVersion` or later and has every option. */
function usable(
  hash: Record<string, string>,
  atLeastVersion: number,
  optionIds: readonly string[],
): Map<string, number> | undefined {
  const version = Number(hash[VERSION_FIELD]);
  if (!Number.isSafeInteger(version) || version < atLeastVersion) return undefined;
  const counts = new Map<string, number>();
  for (const optionId of optionIds) {
    const votes = Number(hash[optionId]);
    if (!Number.isSafeInteger(votes) || votes < 0) return undefined;
    counts.set(optionId, votes);
  }
  return counts;
}
