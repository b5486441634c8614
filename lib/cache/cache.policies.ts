/**
 * Every cache-aside namespace Quad keeps in the cache Redis, in one table: how long an entry
 * lives, how much that is spread, whether "not found" is remembered, and which entries share a
 * Redis Cluster slot. The module that uses the table is cache-aside.ts (its header explains
 * reads, writes and invalidation); this file is pure data.
 *
 * Each entry's numbers and the reason for them are beside it (docs/architecture.md, "one
 * cache-aside module", sums up the design). What is NOT here, because it is state rather than
 * a cache of PostgreSQL rows, lives in the state Redis with its own module: presence, typing,
 * rooms, rate limits, queues, deletion tracking, ephemeral call keys.
 *
 * Keys: `${REDIS_KEY_PREFIX}cache:${namespace}:${id}`, e.g. `quad:cache:conversation:8f14e45f`.
 * Ids that are short and harmless (letters, digits, `._:-`, up to 64) stay readable so an
 * operator can find one entry; any other id (braces, spaces, unicode, newlines, long strings) is
 * replaced by `~` and a SHA-256 prefix (lib/rate-limit/rate-limit-key.ts, encodeSubject), so no
 * id can escape the prefix, break a hash tag or smuggle a character into Redis or a log.
 *
 * Hash tags (so that the same code runs unchanged on Redis Cluster): a namespace whose entries
 * are read together in one command declares `hashTag: '<kind>'`, and is then used through
 * `namespace.group(groupId)`; every key of a group is
 * `${prefix}cache:${namespace}:{${kind}:${groupId}}:${id}`, e.g. a user's unread counters
 * `quad:cache:unread-counts:{user:42}:8f14e45f`, so one MGET of that user's 50 conversations
 * stays in one Redis Cluster slot. A namespace of independent ids that are still read many at
 * a time (each conversation's unread head) declares `shards` as well: its keys spread over that
 * many tags `{<kind>:<n>}`, n from the id, so getMany sends one MGET per shard touched on a
 * cluster. Other namespaces without a hash tag are read one key at a time, or with getMany (one
 * MGET on a single Redis, one per slot on a cluster).
 *
 * TTLs: every entry expires (the cache Redis also evicts least-recently-used keys when full).
 * Invalidation after each PostgreSQL commit is what keeps entries correct; the TTL bounds how
 * long an entry can be wrong if an invalidation is lost (cache Redis hung at that moment), and
 * how long memory is held for entries nobody reads. Each TTL is drawn uniformly from
 * ttl × [1 − jitter, 1 + jitter], so entries written together (a class logging in at 8:00, a
 * cache rebuilt after a restart) do not all expire in the same second and send their reloads to
 * PostgreSQL at once.
 *
 * Negative TTL: when load() finds nothing (null), the cache remembers "not found" for this long,
 * so a stream of lookups of something that does not exist (an expired cookie, a deleted
 * conversation still open in a tab) costs PostgreSQL one query per negative TTL, not one per
 * request. 0 = a null is never cached, for namespaces where null cannot happen or where a
 * "not found" must be seen the moment it changes and no invalidation covers it.
 *
 * Hit ratio per namespace, one PromQL expression (also in docs):
 *   sum by (cache) (rate(cache_requests_total{result="hit"}[5m]))
 *     / sum by (cache) (rate(cache_requests_total[5m]))
 */

export interface CachePolicy {
  /** Lifetime of a cached value, in milliseconds (before jitter). */
  ttlMs: number;
  /** Spread of every TTL (values and not-found): uniform in ttl × [1 − jitter, 1 + jitter]. */
  jitter: number;
  /** Lifetime of a cached "not found" (load() returned null); 0 = not cached. */
  negativeTtlMs: number;
  /** Entries read together in one command share this Redis Cluster hash tag: the namespace is
   *  used through group(groupId) and its keys carry `{<hashTag>:<groupId>}`. */
  hashTag?: string;
  /** For entries of independent ids that are nonetheless read many at a time (one per
   *  conversation): with a hashTag, the keys are spread over this many hash tags
   *  `{<hashTag>:<n>}`, n derived from the id, instead of one group per caller. A read of many
   *  ids is then one MGET on a single server and one per shard touched on a cluster, while the
   *  entries still spread over the cluster's masters. The namespace is used without group(). */
  shards?: number;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** ±10 %: enough to spread a burst of writes over minutes for long TTLs, small enough that no
 *  entry lives noticeably longer than its table says. */
const JITTER = 0.1;

/** The defaults. Keys are the namespace names used in Redis keys and in the `cache` label. */
export const defaultCachePolicies = {
  /** A session by the hash of its token. Logout, revocation and user
   *  deactivation invalidate it at once; the TTL only bounds a revocation whose invalidation
   *  was lost, so it is short: 5 min costs an active user one PostgreSQL query per 5 min. The
   *  cached value must carry the session's own expiry, checked on every use (an entry can
   *  outlive the session by up to the TTL). Not-found 30 s: after the holidays a whole class
   *  arrives with expired cookies, and each keeps retrying. */
  session: { ttlMs: 5 * MINUTE, jitter: JITTER, negativeTtlMs: 30 * SECOND },
  /** API-key validation by key hash. Same reasoning as sessions: revocation invalidates, 5 min
   *  bounds a lost invalidation; unknown keys from a misconfigured integration retrying in a
   *  loop are answered from the cache for 30 s. */
  'api-key': { ttlMs: 5 * MINUTE, jitter: JITTER, negativeTtlMs: 30 * SECOND },
  /** Another user's public profile (name, avatar, role), read for every member list and message
   *  author. Profile updates invalidate; 15 min bounds a stale name after a lost
   *  invalidation, harmless for display. Unknown ids: 60 s. */
  'user-profile': { ttlMs: 15 * MINUTE, jitter: JITTER, negativeTtlMs: 1 * MINUTE },
  /** Conversation metadata: title, kind, members and their roles, 24 h. Every change
   *  invalidates, so the TTL only ages out conversations nobody opened for a day.
   *  Not-found 60 s: a deleted conversation still open in tabs. Membership for authorization
   *  has its own short-lived namespace (permissions). */
  conversation: { ttlMs: 24 * HOUR, jitter: JITTER, negativeTtlMs: 1 * MINUTE },
  /** The latest 100 messages of a conversation, the first page of history, 2 h rather than
   *  24 h: a school day's active conversations stay warm, while a day's worth of every
   *  conversation ever opened (100 messages each) would not fit the LRU budget next to
   *  everything else. New, edited and deleted messages update or invalidate it. An
   *  empty conversation is an empty list, never null: nothing to cache negatively. */
  'recent-messages': { ttlMs: 2 * HOUR, jitter: JITTER, negativeTtlMs: 0 },
  /** Search results per user and query. Invalidated by new messages in the user's
   *  conversations, which is coarse, so the TTL is short too: 60 s covers a user paging through
   *  results and retyping a query. No results is an empty page, not null. */
  search: { ttlMs: 1 * MINUTE, jitter: JITTER, negativeTtlMs: 0 },
  /** A user's membership and role in one conversation, checked on every real-time event and
   *  request. Member changes invalidate; because a lost invalidation here is a security
   *  matter (a removed member keeps access), the TTL is the shortest: 60 s. "Not a member" is
   *  cached 30 s: strangers probing ids are answered without PostgreSQL, and
   *  adding a member invalidates it at once. */
  permissions: { ttlMs: 1 * MINUTE, jitter: JITTER, negativeTtlMs: 30 * SECOND },
  /** Unread count per user and conversation (a string counter, and beside it the basis it was
   *  computed on: lib/conversations/unread-counts.service.ts; a conversation list reads 50 of
   *  each in one MGET), recomputed from receipts and messages when missing. Grouped by user so that
   *  one MGET reads all of a user's counters from one cluster slot. Rather than keeping them
   *  forever, 24 h lets counters of users who did not come back today leave memory (LRU
   *  would evict them anyway, but a TTL frees them without memory pressure). A count is never
   *  null. */
  'unread-counts': { ttlMs: 24 * HOUR, jitter: JITTER, negativeTtlMs: 0, hashTag: 'user' },
  /** Each conversation's latest message sequence number and unread version, against which
   *  the cached counts above are brought up to date (unread-counts.service.ts). Every send
   *  invalidates it, so it lives only as long as a room is quiet; 24 h like the counters it
   *  serves. A conversation list reads 50 of them at once, so they are spread over 16 shards:
   *  one MGET on a single server, at most 16 on a cluster (a key per slot would cost 50
   *  commands, and reading 50 heads cost more than recomputing the counts in PostgreSQL);
   *  16 still spread the heads, invalidated by every send, over a cluster's masters.
   *  Changing the number renames the keys: the heads are recomputed on the next read. */
  'unread-heads': {
    ttlMs: 24 * HOUR,
    jitter: JITTER,
    negativeTtlMs: 0,
    hashTag: 'unread-heads',
    shards: 16,
  },
} as const satisfies Record<string, CachePolicy>;

export type CacheNamespaceName = keyof typeof defaultCachePolicies;
export type CachePolicies = Record<CacheNamespaceName, CachePolicy>;

export const cacheNamespaceNames = Object.keys(defaultCachePolicies) as CacheNamespaceName[];

/** How the cache itself behaves, whatever the namespace. */
export const cacheRuntime = {
  /** How long a reader's claim on a missing key (its lease, see cache-aside.ts) lasts. A load
   *  that takes longer simply does not write its result back (never a stale write): so this is
   *  PostgreSQL's statement timeout (policy.postgres.statementTimeoutMs). It is also how long
   *  a key stays uncacheable if the process holding the lease dies mid-load. */
  leaseTtlMs: 10 * SECOND,
  /** Invalidations lost while the cache Redis did not answer that one process remembers, to
   *  replay them once it does (lost-invalidations.ts). A key is ~100 bytes, so this bounds the
   *  memory at ~10 MB; a school's api commits far fewer writes in an outage of minutes (each
   *  message invalidates one counter per member: 30 members × 50 messages a minute = 1,500). */
  maxLostInvalidations: 100_000,
} as const;

const NAMESPACE_NAME = /^[a-z][a-z0-9-]*$/;
const HASH_TAG_KIND = /^[a-z][a-z0-9-]*$/;

/** Throws a RangeError naming every bad entry; the table and overrides (tests) go through it. */
export function validateCachePolicies(policies: Record<string, CachePolicy>): void {
  const problems: string[] = [];
  for (const [name, entry] of Object.entries(policies)) {
    if (!NAMESPACE_NAME.test(name))
      problems.push(`${name}: name must be lowercase letters, digits, dashes`);
    if (!(Number.isInteger(entry.ttlMs) && entry.ttlMs >= 1)) {
      problems.push(`${name}: ttlMs must be a whole number of milliseconds >= 1`);
    }
    if (!(entry.jitter >= 0 && entry.jitter < 1))
      problems.push(`${name}: jitter must be in [0, 1)`);
    if (!(Number.isInteger(entry.negativeTtlMs) && entry.negativeTtlMs >= 0)) {
      problems.push(`${name}: negativeTtlMs must be a whole number of milliseconds >= 0`);
    }
    if (entry.hashTag !== undefined && !HASH_TAG_KIND.test(entry.hashTag)) {
      problems.push(`${name}: hashTag must be lowercase letters, digits, dashes`);
    }
    if (entry.shards !== undefined) {
      if (!(Number.isInteger(entry.shards) && entry.shards >= 1 && entry.shards <= 1_000)) {
        problems.push(`${name}: shards must be a whole number from 1 to 1000`);
      }
      if (entry.hashTag === undefined) problems.push(`${name}: shards needs a hashTag`);
    }
  }
  if (problems.length > 0) throw new RangeError(`invalid cache policies: ${problems.join('; ')}`);
}

validateCachePolicies(defaultCachePolicies);

/** A TTL drawn uniformly from ttlMs × [1 − jitter, 1 + jitter], in whole milliseconds, ≥ 1. */
export function jitteredTtl(ttlMs: number, jitter: number, random: () => number = Math.random) {
  return Math.max(1, Math.round(ttlMs * (1 + jitter * (2 * random() - 1))));
}
