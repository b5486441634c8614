import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import { cacheRuntime, defaultCachePolicies, jitteredTtl } from '../cache/cache.policies.js';
import { cacheKey } from '../cache/cache-key.js';
import { cacheMetrics, type NamespaceMetrics } from '../cache/cache-metrics.js';
import { CacheRedisAccess } from '../cache/cache-redis-access.js';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';
import { defineLuaScripts, loadLuaScripts } from '../redis/lua-scripts.js';
import type { RedisBreaker } from '../redis/redis-breaker.js';
import type { RedisClient } from '../redis/redis-client.js';
import type { Message } from './conversation.types.js';

/**
 * The latest messages of each conversation in the cache Redis: one sorted set per
 * conversation, `<prefix>cache:recent-messages:<conversationId>`, member = the message as JSON,
 * score = its sequence number, newest `recentMessagesKept` kept. It answers the first page of
 * history without PostgreSQL. TTL and jitter come from the `recent-messages` entry of
 * lib/cache/cache.policies.ts, and hits/misses are counted under that name like every other
 * namespace; CacheAside itself stores strings, which a capped, ordered list is not.
 *
 * Complete or absent. A set answers reads only when it carries the "complete" marker, put there
 * by a fill from PostgreSQL; a set holding only the messages sent since a FLUSHALL would
 * otherwise pass for the whole conversation. The race a fill must not lose (the same one
 * lib/cache/cache-aside.ts explains for strings) is handled the same way, with a lease:
 *
 *   reader: miss → lease (ZADD lease, only if the key is absent) → SELECT latest 100
 *   writer:                                         COMMIT message → append: no marker → DEL
 *   reader:                                                               fill: lease gone → no write
 *
 * Writers touch Redis only after their PostgreSQL commit. A send appends (ZADD + trim in one
 * Lua call); an edit or delete invalidates (DEL): two edits racing could otherwise put the
 * older text back. Every Redis error is counted and swallowed: reads fall back to PostgreSQL.
 */

const COMPLETE = '\u0000complete';
const LEASE = '\u0000lease:';

const scripts = loadLuaScripts(import.meta.url, {
  read: 'recent-messages-read-1.lua',
  lease: 'recent-messages-lease-1.lua',
  fill: 'recent-messages-fill-1.lua',
  append: 'recent-messages-append-1.lua',
});

export interface RecentMessagesOptions {
  /** The cache Redis (role `command`); never created or closed here. */
  redis: RedisClient;
  keyPrefix: string;
  registry: Registry;
  logger: Logger;
  /** The cache Redis' breaker, so a dead Redis costs a read nothing. */
  breaker?: RedisBreaker;
}

/** The newest messages of a conversation, newest first, up to recentMessagesKept. */
export type RecentMessagesLoader = (conversationId: string, limit: number) => Promise<Message[]>;

export class RecentMessagesStore {
  readonly #access: CacheRedisAccess;
  readonly #keyPrefix: string;
  readonly #metrics: NamespaceMetrics;
  readonly #leaseHead = `${LEASE}${randomBytes(9).toString('base64url')}:`;
  #leaseSequence = 0;

  constructor(options: RecentMessagesOptions) {
    // Lost invalidations are replayed before the next command: a set that missed a send or
    // kept an edited text would otherwise answer for hours.
    this.#access = new CacheRedisAccess({
      redis: options.redis,
      breaker: options.breaker,
      logger: options.logger.child({ component: 'recent-messages' }),
      bypassedMessage: 'recent messages cache bypassed: reads go to PostgreSQL',
    });
    defineLuaScripts(options.redis, scripts);
    this.#keyPrefix = options.keyPrefix;
    this.#metrics = cacheMetrics(options.registry).forNamespace('recent-messages');
  }

  key(conversationId: string): string {
    return cacheKey(this.#keyPrefix, 'recent-messages', conversationId);
  }

  /** Cached messages, newest first, or from load() (and then cached) on a miss. */
  async latest(conversationId: string, load: RecentMessagesLoader): Promise<Message[]> {
    const key = this.key(conversationId);
    const kept = policy.messaging.recentMessagesKept;
    let cached: unknown;
    try {
      cached = await this.#access.runScript(scripts.read, key, COMPLETE);
    } catch (error) {
      this.#failed(error);
      this.#metrics.miss();
      return load(conversationId, kept);
    }
    this.#access.answered();
    if (Array.isArray(cached)) {
      this.#metrics.hit();
      return cached.map((member) => JSON.parse(String(member)) as Message);
    }
    this.#metrics.miss();
    const lease = this.#leaseHead + (this.#leaseSequence++).toString(36);
    let leased = false;
    try {
      leased =
        (await this.#access.runScript(scripts.lease, key, lease, cacheRuntime.leaseTtlMs)) === 1;
    } catch (error) {
      this.#failed(error);
    }
    const messages = await load(conversationId, kept);
    if (!leased) return messages;
    const { ttlMs, jitter } = defaultCachePolicies['recent-messages'];
    const pairs = messages.flatMap((message) => [message.seq, encode(message)]);
    try {
      await this.#access.runScript(
        scripts.fill,
        key,
        lease,
        COMPLETE,
        jitteredTtl(ttlMs, jitter),
        kept,
        ...pairs,
      );
    } catch (error) {
      this.#failed(error);
    }
    return messages;
  }

  /** After a send committed. Never throws. */
  async append(message: Message): Promise<void> {
    const { ttlMs, jitter } = defaultCachePolicies['recent-messages'];
    try {
      await this.#access.runScript(
        scripts.append,
        this.key(message.conversationId),
        COMPLETE,
        message.seq,
        encode(message),
        policy.messaging.recentMessagesKept,
        jitteredTtl(ttlMs, jitter),
      );
    } catch (error) {
      this.#failed(error);
      // The set may now miss this message: drop it so the next read reloads.
      await this.invalidate(message.conversationId);
    }
  }

  /** After an edit or delete committed. Never throws; a lost DEL ages out with the TTL. */
  async invalidate(conversationId: string): Promise<void> {
    try {
      await this.#access.call(() => this.#access.redis.del(this.key(conversationId)));
    } catch (error) {
      this.#access.lost.remember([this.key(conversationId)]);
      this.#failed(error);
    }
  }

  #failed(error: unknown) {
    this.#access.failed(() => this.#metrics.error(), error);
  }
}

/** One message, one member: the fields in a fixed order, so a fill and an append of the same
 *  message write the same member and never a duplicate. */
function encode(message: Message): string {
  return JSON.stringify({
    id: message.id,
    conversationId: message.conversationId,
    seq: message.seq,
    senderId: message.senderId,
    body: message.body,
    createdAt: message.createdAt,
    editedAt: message.editedAt,
    deletedAt: message.deletedAt,
  } satisfies Message);
}
