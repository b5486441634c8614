import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import type { RedisBreaker } from '../redis/redis-breaker.js';
import { connectionOptions, isCluster, type RedisClient } from '../redis/redis-client.js';
import { type BatchCommand, groupBySlot, mgetAcrossSlots } from '../redis/slot-batches.js';
import {
  type CacheNamespaceName,
  type CachePolicies,
  type CachePolicy,
  cacheRuntime,
  defaultCachePolicies,
  jitteredTtl,
  validateCachePolicies,
} from './cache.policies.js';
import { cacheKeyHead, encodeCacheId } from './cache-key.js';
import { cacheMetrics, type NamespaceMetrics } from './cache-metrics.js';
import { CacheRedisAccess, execBatch } from './cache-redis-access.js';
import {
  cacheFillCommand,
  defineCacheScripts,
  type FillCommand,
  queueCacheFill,
} from './cache-scripts.js';
import type { LostInvalidations } from './lost-invalidations.js';

/**
 * Cache-aside over the cache Redis: PostgreSQL is the source of truth, Redis holds copies of
 * rows (or of query results) keyed by namespace and id, with the TTLs of cache.policies.ts.
 *
 * Read (get): GET the key. A value is a hit; a cached "not found" is a hit that answers null.
 * Otherwise load() from PostgreSQL and write the result back with a jittered TTL (a null as
 * "not found" for the namespace's negative TTL). Concurrent misses of one key in one process
 * share one load() (single-flight): 50 requests for a cold conversation cost one query.
 *
 * Write: commit to PostgreSQL first, then either invalidate(id) (the next read reloads) or
 * set(id, value) (write-through, for a value the writer just created, such as a new session).
 * Both are best effort and never throw: a failed invalidation leaves the old entry until its
 * TTL, which is why TTLs that guard security (sessions, API keys, permissions) are short.
 *
 * The race, and its guard. Without care, a reader can put a stale value back after a writer
 * invalidated it:
 *
 *   reader: GET → miss; SELECT … (sees the old row)
 *   writer:                                       COMMIT new row; DEL key
 *   reader:                                                                 SET key old-row
 *   → every reader gets the old row until the TTL (24 h for a conversation).
 *
 * So a reader that misses first takes a lease on the key, `SET key <lease> NX PX leaseTtl GET`
 * (one command; if the key was filled meanwhile, GET returns that value instead), and only then
 * runs load(). It writes back with cache-fill-1.lua, which stores the value only if the key still
 * holds its own lease. The writer's DEL (or SET) after its commit removes the lease; a load
 * that may have read the old row then writes nothing, and the next reader loads the new row.
 * Unlike a timed "invalidated" tombstone, this has no window: a load slower than anything still
 * cannot write stale data, it only fails to cache (a lease expires after leaseTtlMs; the
 * write-back then finds no lease). A reader that finds another process's lease loads for its own
 * request and does not write. Within a process, invalidate/set also stop later callers from
 * joining a load that started before them. What remains: a read concurrent with a write may
 * answer the old row once (it began, or joined another process-local load that began, before
 * the commit), and loads must read the primary, not a lagging replica.
 *
 * Entries that are not values (the lease, "not found") start with a NUL character, which no
 * JSON text (the default codec) begins with; a codec output starting with one is refused.
 * Values are stored exactly as the codec encodes them, so operators read plain JSON and an
 * integer value can be INCRBY'd in place.
 *
 * Failure: every Redis call goes through the breaker (lib/redis/redis-breaker.ts) when given,
 * or at least fails fast while the client is not connected. A Redis error, timeout or refusal
 * is counted in cache_errors_total and the read is answered by load(); nothing Redis does is
 * ever thrown to the caller. Errors of load() itself are the caller's and are passed through.
 *
 * Metrics (cache-metrics.ts): cache_requests_total{cache,result}, cache_errors_total{cache};
 * hit ratio per namespace:
 *   sum by (cache) (rate(cache_requests_total{result="hit"}[5m]))
 *     / sum by (cache) (rate(cache_requests_total[5m]))
 */

export interface CacheCodec<T> {
  encode(value: T): string;
  decode(text: string): T;
}

export interface CacheNamespaceOptions<T> {
  /** How values are stored. Default: JSON. A codec that validates while decoding (a zod
   *  parse) turns an entry of an older shape, left by a previous release, into a miss. */
  codec?: CacheCodec<T>;
}

export interface CacheNamespace<T> {
  /** Cache-aside read: hit → value; miss → load() once per key across concurrent callers in
   *  this process (single-flight), store with jittered TTL, return; load() returning null is
   *  cached as not-found for the namespace's negative TTL. Redis errors/breaker open → load()
   *  directly (counted in cache_errors_total), never thrown to the caller. */
  get(id: string, load: () => Promise<T | null>): Promise<T | null>;
  /** get() of `id` here and of `otherId` in `other` (a namespace of the same CacheAside), warm
   *  in one command: an MGET of both keys where one command can read them (a single server, or
   *  both keys in one cluster slot), otherwise the two GETs sent together. Each value is
   *  counted, loaded and filled by its own namespace exactly as its get() would. */
  getWith<U>(
    id: string,
    load: () => Promise<T | null>,
    other: CacheNamespace<U>,
    otherId: string,
    otherLoad: () => Promise<U | null>,
  ): Promise<[T | null, U | null]>;
  /** Many ids in one round trip (MGET); misses loaded by loadMany(missingIds) in one call and
   *  written back in one pipeline. Ids absent from loadMany's map are not found (cached as
   *  such for the negative TTL) and absent from the result, which follows the order of ids. */
  getMany(
    ids: readonly string[],
    loadMany: (missing: string[]) => Promise<Map<string, T>>,
  ): Promise<Map<string, T>>;
  /** Write-through after a PostgreSQL commit (e.g. a fresh session). Never throws. */
  set(id: string, value: T): Promise<void>;
  /** Invalidate after the PostgreSQL commit; best effort, bounded, never throws. */
  invalidate(...ids: string[]): Promise<void>;
  /** The Redis key for id (prefix + namespace + id, hostile ids encoded safely). */
  key(id: string): string;
  /** For a namespace that declares a hashTag: the keys of one group (e.g. one user's unread
   *  counters), all in one Redis Cluster slot. Throws for a namespace without a hashTag. */
  group(groupId: string): CacheNamespace<T>;
}

export interface CacheAsideOptions {
  /** The cache Redis, role `command` (lib/redis/redis-client.ts): every command bounded by a
   *  timeout, failing at once while disconnected. Never created, closed or flushed here. */
  redis: RedisClient;
  /** REDIS_KEY_PREFIX: every key starts with it (the ACL grants nothing else). */
  keyPrefix: string;
  /** Where the cache metrics are registered (the service's registry). */
  registry: Registry;
  logger: Logger;
  /** The breaker of this same client. Without one, calls still fail fast while the client is
   *  not connected, but a hung Redis costs every read a command timeout. */
  breaker?: RedisBreaker;
  /** Default: the table in cache.policies.ts. */
  policies?: CachePolicies;
  /** false: every read calls the loader, nothing touches Redis, nothing is counted (the
   *  benchmark's "cache disabled" side). Default true. */
  enabled?: boolean;
}

const MARKER = '\u0000';
const NOT_FOUND = '\u0000not-found';
const LEASE = '\u0000lease:';

/** The default codec. JSON.parse is trusted to give back what JSON.stringify was given: only
 *  this module writes cache entries. A shape that changes between releases wants a validating
 *  codec (see CacheNamespaceOptions). */
function jsonCodec<T>(): CacheCodec<T> {
  return {
    encode: (value) => JSON.stringify(value),
    decode: (text) => JSON.parse(text) as T,
  };
}

/** A key getMany found missing: its lease, and whether Redis gave it to this reader. */
interface Miss {
  id: string;
  key: string;
  /** It held an entry that could not be decoded: deleted before the lease is taken. */
  corrupt: boolean;
  lease: string;
  leased: boolean;
}

/** What a raw Redis string is to a reader. */
type Entry<T> = { found: true; value: T | null } | { found: false; corrupt: boolean };
const MISSING = { found: false, corrupt: false } as const;
const CORRUPT = { found: false, corrupt: true } as const;

/** Calls a loader so that even one that throws instead of rejecting yields a rejection. */
async function callLoader<R>(load: () => Promise<R>): Promise<R> {
  return load();
}

/** What every namespace of one CacheAside shares. */
class CacheCore {
  readonly redis: RedisClient;
  readonly keyPrefix: string;
  readonly enabled: boolean;
  readonly logger: Logger;
  readonly fill: FillCommand;
  /** Breaker, lost-invalidation replay and once-per-outage logging (cache-redis-access.ts). */
  readonly access: CacheRedisAccess;
  /** Loads in progress by key (single-flight). One map for all namespaces: keys are unique. */
  readonly flights = new Map<string, Promise<unknown>>();
  /** Unique per process, so a lease names its holder. */
  readonly #leaseHead = `${LEASE}${randomBytes(9).toString('base64url')}:`;
  #leaseSequence = 0;
  readonly #warnedNamespaces = new Set<string>();

  constructor(options: CacheAsideOptions) {
    this.redis = options.redis;
    this.keyPrefix = options.keyPrefix;
    this.enabled = options.enabled ?? true;
    this.logger = options.logger.child({ component: 'cache' });
    defineCacheScripts(this.redis);
    this.fill = cacheFillCommand(this.redis);
    this.access = new CacheRedisAccess({
      redis: this.redis,
      breaker: options.breaker,
      logger: this.logger,
      bypassedMessage: 'cache bypassed: Redis is not answering; reads go to PostgreSQL',
      recoveredMessage: 'cache in use again',
    });
  }

  get lost(): LostInvalidations {
    return this.access.lost;
  }

  call<R>(operation: () => Promise<R>): Promise<R> {
    return this.access.call(operation);
  }

  nextLease(): string {
    return this.#leaseHead + (this.#leaseSequence++).toString(36);
  }

  failed(metrics: NamespaceMetrics, error: unknown) {
    this.access.failed(() => metrics.error(), error);
  }

  answered() {
    this.access.answered();
  }

  /** Logged once per namespace: a deploy that changed a shape would otherwise log per read. */
  warnOnce(namespace: string, error: unknown, message: string) {
    if (this.#warnedNamespaces.has(namespace)) return;
    this.#warnedNamespaces.add(namespace);
    this.logger.warn(
      { cache: namespace, err: error instanceof Error ? error.message : String(error) },
      message,
    );
  }
}

class Namespace<T> implements CacheNamespace<T> {
  readonly #core: CacheCore;
  readonly #name: CacheNamespaceName;
  readonly #policy: CachePolicy;
  readonly #codec: CacheCodec<T>;
  readonly #metrics: NamespaceMetrics;
  /** Undefined while a namespace with a hash tag has not been given its group. */
  readonly #keyHead: string | undefined;
  /** A sharded namespace (cache.policies.ts `shards`): the head of each shard's keys. */
  readonly #shardHeads: readonly string[] | undefined;
  readonly #grouped: boolean;

  constructor(
    core: CacheCore,
    name: CacheNamespaceName,
    policy: CachePolicy,
    codec: CacheCodec<T>,
    metrics: NamespaceMetrics,
    groupId?: string,
  ) {
    this.#core = core;
    this.#name = name;
    this.#policy = policy;
    this.#codec = codec;
    this.#metrics = metrics;
    this.#grouped = groupId !== undefined;
    const { hashTag, shards } = policy;
    if (hashTag === undefined) {
      this.#keyHead = cacheKeyHead(core.keyPrefix, name);
    } else if (shards !== undefined) {
      this.#shardHeads = Array.from({ length: shards }, (_, shard) =>
        cacheKeyHead(core.keyPrefix, name, { hashTag, groupId: String(shard) }),
      );
    } else if (groupId !== undefined) {
      this.#keyHead = cacheKeyHead(core.keyPrefix, name, { hashTag, groupId });
    }
  }

  key(id: string): string {
    if (this.#shardHeads !== undefined) {
      const shard = shardOf(id, this.#shardHeads.length);
      return (this.#shardHeads[shard] as string) + encodeCacheId(id);
    }
    if (this.#keyHead === undefined) {
      throw new TypeError(
        `cache namespace ${this.#name} groups its keys by ${this.#policy.hashTag}: use group(${this.#policy.hashTag}Id)`,
      );
    }
    return this.#keyHead + encodeCacheId(id);
  }

  group(groupId: string): CacheNamespace<T> {
    if (this.#policy.hashTag === undefined || this.#grouped || this.#shardHeads !== undefined) {
      throw new TypeError(
        this.#grouped
          ? `cache namespace ${this.#name} is already a group`
          : this.#shardHeads !== undefined
            ? `cache namespace ${this.#name} shards its keys itself: use it without group()`
            : `cache namespace ${this.#name} declares no hashTag in cache.policies.ts`,
      );
    }
    return new Namespace(this.#core, this.#name, this.#policy, this.#codec, this.#metrics, groupId);
  }

  async get(id: string, load: () => Promise<T | null>): Promise<T | null> {
    const core = this.#core;
    if (!core.enabled) return load();
    const key = this.key(id);
    const inFlight = core.flights.get(key) as Promise<T | null> | undefined;
    if (inFlight) {
      this.#metrics.miss();
      return inFlight;
    }
    let raw: string | null;
    try {
      raw = await core.call(() => core.redis.get(key));
    } catch (error) {
      core.failed(this.#metrics, error);
      this.#metrics.miss();
      return this.#flight(key, load, false);
    }
    core.answered();
    return this.#answer(key, raw, load);
  }

  async getWith<U>(
    id: string,
    load: () => Promise<T | null>,
    other: CacheNamespace<U>,
    otherId: string,
    otherLoad: () => Promise<U | null>,
  ): Promise<[T | null, U | null]> {
    const core = this.#core;
    const apart = () => Promise.all([this.get(id, load), other.get(otherId, otherLoad)]);
    if (!core.enabled || !(other instanceof Namespace) || other.#core !== core) return apart();
    const key = this.key(id);
    const otherKey = other.key(otherId);
    // A load in progress is joined by get(); and on a cluster, keys in two slots are two GETs.
    if (core.flights.has(key) || core.flights.has(otherKey)) return apart();
    if (isCluster(core.redis) && groupBySlot(core.redis, [key, otherKey], (k) => k).length > 1) {
      return apart();
    }
    const that = other as Namespace<U>;
    let raws: Array<string | null>;
    try {
      raws = await core.call(() => core.redis.mget(key, otherKey));
    } catch (error) {
      core.failed(this.#metrics, error);
      that.#metrics.error();
      this.#metrics.miss();
      that.#metrics.miss();
      return Promise.all([
        this.#flight(key, load, false),
        that.#flight(otherKey, otherLoad, false),
      ]);
    }
    core.answered();
    return Promise.all([
      this.#answer(key, raws[0] ?? null, load),
      that.#answer(otherKey, raws[1] ?? null, otherLoad),
    ]);
  }

  /** What a read of `key` answered: a hit, or a miss that is loaded (and filled) once. */
  async #answer(key: string, raw: string | null, load: () => Promise<T | null>): Promise<T | null> {
    const entry = this.#read(raw);
    if (entry.found) {
      this.#metrics.hit();
      return entry.value;
    }
    this.#metrics.miss();
    if (entry.corrupt) await this.#discard(key);
    return this.#flight(key, load, true);
  }

  async getMany(
    ids: readonly string[],
    loadMany: (missing: string[]) => Promise<Map<string, T>>,
  ): Promise<Map<string, T>> {
    const core = this.#core;
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    if (!core.enabled) return inOrder(unique, await loadMany(unique));
    const keys = unique.map((id) => this.key(id));

    let replies: Array<string | null>;
    try {
      replies = await core.call(() => mgetAcrossSlots(core.redis, keys));
    } catch (error) {
      core.failed(this.#metrics, error);
      this.#metrics.miss(unique.length);
      return inOrder(unique, await loadMany(unique));
    }
    core.answered();

    const cached = new Map<string, T>();
    const misses: Miss[] = [];
    unique.forEach((id, index) => {
      const entry = this.#read(replies[index] ?? null);
      if (!entry.found) {
        const key = keys[index] ?? this.key(id);
        misses.push({ id, key, corrupt: entry.corrupt, lease: core.nextLease(), leased: false });
      } else if (entry.value !== null) {
        cached.set(id, entry.value);
      }
    });
    this.#metrics.hit(unique.length - misses.length);
    this.#metrics.miss(misses.length);
    if (misses.length === 0) return cached;

    const toLoad = await this.#claimLeases(misses, cached);
    let loaded: Map<string, T>;
    try {
      loaded = toLoad.length > 0 ? await loadMany(toLoad.map((miss) => miss.id)) : new Map();
    } catch (error) {
      await this.#writeBackMany(toLoad, undefined);
      throw error;
    }
    await this.#writeBackMany(toLoad, loaded);
    return inOrder(unique, cached, loaded);
  }

  async set(id: string, value: T): Promise<void> {
    const core = this.#core;
    if (!core.enabled) return;
    const key = this.key(id);
    // A load that began before this write must not be joined by later callers.
    core.flights.delete(key);
    const entry = this.#entryFor(value);
    try {
      await core.call<unknown>(() =>
        entry ? core.redis.set(key, entry.text, 'PX', entry.ttlMs) : core.redis.del(key),
      );
      core.answered();
    } catch (error) {
      // The old entry, if any, may still be there.
      core.lost.remember([key]);
      core.failed(this.#metrics, error);
    }
  }

  async invalidate(...ids: string[]): Promise<void> {
    const core = this.#core;
    if (!core.enabled) return;
    // No key is ever made for an empty id, so there is nothing to invalidate for one; skipping
    // it keeps the promise that this never throws.
    const keys = [...new Set(ids.filter((id) => id !== '').map((id) => this.key(id)))];
    if (keys.length === 0) return;
    for (const key of keys) core.flights.delete(key);
    // One DEL when the keys share a slot (one id, or one group); otherwise one DEL per key,
    // sent together, so the same code runs on Redis Cluster (a multi-key DEL across slots is
    // refused there).
    const batches = this.#grouped || keys.length === 1 ? [keys] : keys.map((key) => [key]);
    await Promise.all(
      batches.map(async (batch) => {
        try {
          await core.call(() => core.redis.del(...batch));
          core.answered();
        } catch (error) {
          core.lost.remember(batch);
          core.failed(this.#metrics, error);
        }
      }),
    );
  }

  /** Single-flight: the load of `key` in progress in this process, or a new one. */
  #flight(key: string, load: () => Promise<T | null>, useRedis: boolean): Promise<T | null> {
    const flights = this.#core.flights;
    const existing = flights.get(key) as Promise<T | null> | undefined;
    if (existing) return existing;
    const flight = useRedis ? this.#loadAndFill(key, load) : callLoader(load);
    flights.set(key, flight);
    const forget = () => {
      // invalidate/set may have replaced or removed it already.
      if (flights.get(key) === flight) flights.delete(key);
    };
    flight.then(forget, forget);
    return flight;
  }

  async #loadAndFill(key: string, load: () => Promise<T | null>): Promise<T | null> {
    const core = this.#core;
    const lease = core.nextLease();
    let leased = false;
    try {
      const previous = await core.call(() =>
        core.redis.set(key, lease, 'PX', cacheRuntime.leaseTtlMs, 'NX', 'GET'),
      );
      core.answered();
      if (previous === null) {
        leased = true;
      } else {
        const entry = this.#read(previous);
        // Filled between our GET and now: use it. Another process's lease: load without
        // writing back.
        if (entry.found) return entry.value;
      }
    } catch (error) {
      core.failed(this.#metrics, error);
    }
    if (!leased) return load();
    let value: T | null;
    try {
      value = await load();
    } catch (error) {
      await this.#writeBack(key, lease, undefined);
      throw error;
    }
    await this.#writeBack(key, lease, this.#entryFor(value));
    return value;
  }

  /** Stores `entry` if the key still holds `lease`; with no entry, gives the lease back. */
  async #writeBack(key: string, lease: string, entry: { text: string; ttlMs: number } | undefined) {
    const core = this.#core;
    try {
      await core.call(() => core.fill(key, lease, entry?.text ?? '', entry?.ttlMs ?? 0));
      core.answered();
    } catch (error) {
      core.failed(this.#metrics, error);
    }
  }

  /**
   * getMany's leases: one SET NX GET per missing key, in one pipeline (see the header: the race
   * and its guard); an entry that could not be decoded is deleted first. Marks the misses whose
   * lease was taken, moves keys filled meanwhile by another reader into `cached`, and returns
   * what is left to load (including keys another process is loading: loaded, not written).
   */
  async #claimLeases(misses: Miss[], cached: Map<string, T>): Promise<Miss[]> {
    const core = this.#core;
    let replies: unknown[];
    try {
      const commands: BatchCommand[] = [];
      for (const miss of misses) {
        if (miss.corrupt) commands.push({ key: miss.key, queue: (p) => p.del(miss.key) });
        commands.push({
          key: miss.key,
          queue: (p) => p.set(miss.key, miss.lease, 'PX', cacheRuntime.leaseTtlMs, 'NX', 'GET'),
        });
      }
      replies = await core.call(() => execBatch(core.redis, commands));
      core.answered();
    } catch (error) {
      core.failed(this.#metrics, error);
      return misses;
    }
    const toLoad: Miss[] = [];
    let reply = 0;
    for (const miss of misses) {
      if (miss.corrupt) reply++; // the DEL's reply
      const previous = replies[reply++];
      if (previous === null) {
        miss.leased = true;
        toLoad.push(miss);
        continue;
      }
      const entry = this.#read(typeof previous === 'string' ? previous : null);
      if (!entry.found) toLoad.push(miss);
      else if (entry.value !== null) cached.set(miss.id, entry.value);
    }
    return toLoad;
  }

  /** getMany's write-back: one pipeline for every lease held. Without `loaded` (the loader
   *  failed), the leases are only given back. */
  async #writeBackMany(misses: readonly Miss[], loaded: ReadonlyMap<string, T> | undefined) {
    const leased = misses.filter((miss) => miss.leased);
    if (leased.length === 0) return;
    const core = this.#core;
    try {
      const commands = leased.map((miss): BatchCommand => {
        const entry = loaded
          ? this.#entryFor(loaded.has(miss.id) ? (loaded.get(miss.id) as T) : null)
          : undefined;
        return {
          key: miss.key,
          queue: (p) =>
            queueCacheFill(p, miss.key, miss.lease, entry?.text ?? '', entry?.ttlMs ?? 0),
        };
      });
      await core.call(() => execBatch(core.redis, commands));
      core.answered();
    } catch (error) {
      core.failed(this.#metrics, error);
    }
  }

  /** The entry to store for a loaded value, with its jittered TTL; undefined when nothing
   *  should be stored (a null without negative caching, or a value the codec cannot encode). */
  #entryFor(value: T | null): { text: string; ttlMs: number } | undefined {
    const { ttlMs, negativeTtlMs, jitter } = this.#policy;
    if (value === null) {
      return negativeTtlMs > 0
        ? { text: NOT_FOUND, ttlMs: jitteredTtl(negativeTtlMs, jitter) }
        : undefined;
    }
    let text: string;
    try {
      text = this.#codec.encode(value);
      if (text.startsWith(MARKER)) throw new Error('encoded value starts with a NUL character');
    } catch (error) {
      this.#metrics.error();
      this.#core.warnOnce(this.#name, error, 'cache value could not be encoded; not cached');
      return undefined;
    }
    return { text, ttlMs: jitteredTtl(ttlMs, jitter) };
  }

  #read(raw: string | null): Entry<T> {
    if (raw === null || raw.startsWith(LEASE)) return MISSING;
    if (raw === NOT_FOUND) return { found: true, value: null };
    try {
      return { found: true, value: this.#codec.decode(raw) };
    } catch (error) {
      this.#metrics.error();
      this.#core.warnOnce(this.#name, error, 'cache entry could not be decoded; discarded');
      return CORRUPT;
    }
  }

  /** Removes an entry that cannot be decoded, so that the miss that follows can be cached. */
  async #discard(key: string) {
    const core = this.#core;
    try {
      await core.call(() => core.redis.del(key));
    } catch (error) {
      core.failed(this.#metrics, error);
    }
  }
}

/**
 * Which of `shards` an id's key goes to: 32-bit FNV-1a over the id's last 16 UTF-16 code units
 * (where ids differ: the random end of a UUID, the digits of a counter). Not a cryptographic
 * hash, nor the cluster's CRC16 over UTF-8: a conversation list computes 50 of these per read,
 * and the spread only has to be even and stable.
 */
export function shardOf(id: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let index = Math.max(0, id.length - 16); index < id.length; index++) {
    hash = Math.imul(hash ^ id.charCodeAt(index), 0x01000193);
  }
  return (hash >>> 0) % shards;
}

/** The values found for `ids`, in the order of `ids`, first source first. */
function inOrder<T>(ids: readonly string[], ...sources: ReadonlyMap<string, T>[]): Map<string, T> {
  const result = new Map<string, T>();
  for (const id of ids) {
    const source = sources.find((values) => values.has(id));
    if (source) result.set(id, source.get(id) as T);
  }
  return result;
}

/**
 * The cache-aside layer of one service. Receives its Redis client (the cache instance), breaker,
 * registry and logger from the composition root; creates no connection.
 */
export class CacheAside {
  readonly policies: CachePolicies;
  readonly #core: CacheCore;
  readonly #registry: Registry;

  constructor(options: CacheAsideOptions) {
    if (options.breaker && options.breaker.redis !== options.redis) {
      // A breaker judges one Redis; the state Redis' breaker in front of the cache Redis would
      // open and close on the wrong instance's health.
      throw new TypeError('the cache breaker must guard the same Redis client as the cache');
    }
    this.policies = options.policies ?? defaultCachePolicies;
    validateCachePolicies(this.policies);
    this.#core = new CacheCore(options);
    this.#registry = options.registry;
    if (this.#core.enabled && connectionOptions(options.redis).commandTimeout === undefined) {
      // A common misuse: a queue or subscriber client. A hung Redis would then hang reads.
      this.#core.logger.warn(
        'cache got a Redis client without commandTimeout; use a `command` role client so a hung Redis cannot hang requests',
      );
    }
  }

  /** A namespace of the policy table. Call once per namespace (at start-up) and keep it: a
   *  namespace holds no state of its own, but a codec per name is the caller's promise. */
  namespace<T>(
    name: CacheNamespaceName,
    options: CacheNamespaceOptions<T> = {},
  ): CacheNamespace<T> {
    const policy = this.policies[name];
    if (!policy) throw new RangeError(`unknown cache namespace ${name}`);
    const codec = options.codec ?? jsonCodec<T>();
    return new Namespace<T>(
      this.#core,
      name,
      policy,
      codec,
      cacheMetrics(this.#registry).forNamespace(name),
    );
  }
}
