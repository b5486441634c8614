import type { Pool } from 'pg';
import type { CacheCodec, CacheNamespace } from '../cache/index.js';
import {
  readReceiptRepository,
  type UnreadBasis,
  type UnreadHead,
} from './read-receipt.repository.js';

/** A whole number a cache entry may hold (JSON gives back any number). */
function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * How a member's entry is stored: `{"count":3,"throughSeq":120,"version":0}`, JSON an operator
 * reads. Decoding checks the shape, so an entry of another shape (a plain counter from an
 * earlier release) is a miss and is recomputed, never misread.
 */
export const unreadBasisCodec: CacheCodec<UnreadBasis> = {
  encode: (basis) =>
    JSON.stringify({ count: basis.count, throughSeq: basis.throughSeq, version: basis.version }),
  decode: (text) => {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null) {
      const { count, throughSeq, version } = value as Record<string, unknown>;
      if (isCount(count) && isCount(throughSeq) && isCount(version)) {
        return { count, throughSeq, version };
      }
    }
    throw new TypeError('not an unread basis');
  },
};

/**
 * Unread counts per user and conversation, derived so that a send costs the same in any room.
 *
 * What is cached, on the cache Redis:
 * - per member (namespace `unread-counts`, grouped by user: `{user:<id>}`), one entry: the
 *   count as PostgreSQL computed it and its basis, the conversation's latest sequence number
 *   and unread version in the same snapshot (`throughSeq`, `version`);
 * - per conversation (namespace `unread-heads`, spread over a few hash-tagged shards so that
 *   many are read with one MGET: cache.policies.ts), the latest sequence number and unread
 *   version.
 *
 * A member's count now is the cached count plus every message after `throughSeq` up to the
 * head (sequence numbers have no gaps), which is exact as long as each of those messages was
 * sent by someone else and is still there. The rules that keep it so, each a constant number of
 * keys whatever the member count:
 * - a send invalidates the sender's own entry (own messages are never unread) and the head;
 * - a delete (by the author, an admin, or retention) bumps conversations.unread_version in its
 *   transaction and invalidates the head: an entry of an older version is recomputed on read;
 * - what changes one member's count alone (a receipt, a per-user delete, joining or leaving)
 *   invalidates that member's entry.
 * Entries are invalidated after the commit, never incremented (a DEL also removes the lease of
 * a recompute in flight: lib/cache/cache-aside.ts), so none is ever computed against a
 * PostgreSQL state older than a change it survived.
 *
 * Reading 50 conversations: one MGET of the user's entries (one slot) and one MGET of the
 * heads (one per shard touched on a cluster), sent together; misses are recomputed by one
 * PostgreSQL query each side. One entry per member rather than a counter and a basis beside it
 * halves what a read sends and parses (100 keys where it was 150).
 */
export class UnreadCountsService {
  readonly #postgres: Pool;
  readonly #counters: CacheNamespace<UnreadBasis>;
  readonly #heads: CacheNamespace<UnreadHead>;

  constructor(options: {
    postgres: Pool;
    counters: CacheNamespace<UnreadBasis>;
    heads: CacheNamespace<UnreadHead>;
  }) {
    this.#postgres = options.postgres;
    this.#counters = options.counters;
    this.#heads = options.heads;
  }

  /** Counts of `conversationIds` for `userId`, 0 for any the user is not a member of. */
  async countsFor(
    userId: string,
    conversationIds: readonly string[],
  ): Promise<Map<string, number>> {
    const ids = [...new Set(conversationIds)];
    const reading = this.#entries(userId, ids);
    const [entries, heads] = await Promise.all([reading, this.#readHeads(ids, reading)]);
    const counts = new Map<string, number>();
    const stale: string[] = [];
    for (const id of ids) {
      const entry = entries.get(id);
      if (entry === undefined) continue;
      if (entry.fresh) {
        // Computed just now: exact as it stands.
        counts.set(id, entry.basis.count);
        continue;
      }
      const head = heads.get(id);
      if (head && entry.basis.version < head.version) {
        stale.push(id);
        continue;
      }
      const newer = head ? Math.max(0, head.seq - entry.basis.throughSeq) : 0;
      counts.set(id, entry.basis.count + newer);
    }
    if (stale.length > 0) {
      // A delete since: recompute (invalidate first, so the recompute is cached).
      await this.#forget(userId, stale);
      const recomputed = await this.#entries(userId, stale);
      for (const [id, entry] of recomputed) counts.set(id, entry.basis.count);
    }
    return new Map(conversationIds.map((id) => [id, counts.get(id) ?? 0]));
  }

  /** After a commit that changed what `userIds` alone have unread in the conversation (a
   *  receipt moved; a per-user delete; a membership change). */
  async invalidate(conversationId: string, userIds: readonly string[]): Promise<void> {
    // Each user's entries live in their own slot: one DEL per user, sent together.
    await Promise.all(
      [...new Set(userIds)].map((userId) => this.#forget(userId, [conversationId])),
    );
  }

  /** After a message's commit: one more unread message for everyone but its sender. */
  async messageAdded(conversationId: string, senderId: string): Promise<void> {
    // The sender's entry first: a head that already shows the message must not meet an entry
    // computed before it (it would count the sender's own message).
    await this.#forget(senderId, [conversationId]);
    await this.#heads.invalidate(conversationId);
  }

  /** After the commit of a delete that bumped the conversation's unread version. */
  async messagesRemoved(conversationId: string): Promise<void> {
    await this.#heads.invalidate(conversationId);
  }

  /** The user's cached entries of `ids`, recomputed where missing; `fresh` marks what was
   *  computed by this call. Non-members are absent. */
  async #entries(
    userId: string,
    ids: readonly string[],
  ): Promise<Map<string, { basis: UnreadBasis; fresh: boolean }>> {
    const computed = new Set<string>();
    const bases = await this.#counters.group(userId).getMany(ids, async (missing) => {
      const loaded = await readReceiptRepository.unreadBases(this.#postgres, userId, missing);
      for (const id of loaded.keys()) computed.add(id);
      return loaded;
    });
    const result = new Map<string, { basis: UnreadBasis; fresh: boolean }>();
    for (const [id, basis] of bases) result.set(id, { basis, fresh: computed.has(id) });
    return result;
  }

  /** The heads of `ids`: one MGET (one per shard touched on a cluster). Missing
   *  ones are recomputed by one PostgreSQL query, only for the conversations whose entries came
   *  from the cache: a count computed just now needs no head (so a cold or disabled cache costs
   *  one query, not two). */
  #readHeads(
    ids: readonly string[],
    reading: Promise<Map<string, { fresh: boolean }>>,
  ): Promise<Map<string, UnreadHead>> {
    return this.#heads.getMany(ids, async (missing) => {
      const entries = await reading.catch(() => new Map<string, { fresh: boolean }>());
      const needed = missing.filter((id) => entries.get(id)?.fresh === false);
      return needed.length === 0
        ? new Map()
        : readReceiptRepository.unreadHeads(this.#postgres, needed);
    });
  }

  #forget(userId: string, conversationIds: readonly string[]): Promise<void> {
    return this.#counters.group(userId).invalidate(...conversationIds);
  }
}
