import { createHash } from 'node:crypto';
import type { Pool } from 'pg';
import type { CacheNamespace } from '../cache/index.js';
import { ConversationNotFoundError, type Message } from '../conversations/index.js';
import { messageSearchRepository, type SearchScope } from './message-search.repository.js';
import { decodeSearchCursor, encodeSearchCursor, type SearchPosition } from './search-cursor.js';
import type { SearchGenerations } from './search-generations.store.js';

/**
 * Full-text search over the messages of the conversations a user belongs to,
 * with its results cached briefly per user and query (cache namespace `search`, 60 s).
 *
 * What a result depends on, and how each part reaches the cache key. An entry is stored under
 * a key derived from everything its answer depends on, so an entry that could be stale is never
 * read again (it ages out with its TTL); there is no stale entry to detect, so nothing is ever
 * counted as a hit that was not one.
 *
 * - The request: user, query, conversation filter, cursor, limit.
 * - The scope: the conversations the user is a member of now, with what their per-user delete
 *   hid (hidden_through_seq), read from PostgreSQL on every search (one indexed query on
 *   conversation_members; cheap next to the full-text query a hit saves). Joining, leaving,
 *   being removed and deleting a conversation for oneself change the scope, hence the key, at
 *   the moment they commit: a removed member can never be answered from an entry that covered
 *   the conversation they left, whatever the TTL, and no hook in ConversationService is needed.
 * - The messages of the scope: one generation token per conversation (search-generations.store.ts),
 *   replaced by MessageService after every committed send, edit and delete. A new message in
 *   conversation C changes the key of every cached search of every member of C with one SET,
 *   not one write per member. A generation missing from Redis (FLUSHALL, eviction) is minted
 *   afresh, a value no entry recorded: a miss, never a stale hit.
 *
 * Order of a miss: scope (PostgreSQL), then generations (Redis), then the full-text query
 * (PostgreSQL). Generations are read before the query, so a change that commits in between
 * either is seen by the query, or replaced its generation after the read, and the entry written
 * with the older generation is never read again. The write-back itself is lease-guarded and
 * single-flight per key (lib/cache/cache-aside.ts).
 *
 * When the cache Redis cannot answer, searches go to PostgreSQL uncached (errors counted in
 * cache_errors_total{cache="search"}); results are the same, only slower.
 */

export interface SearchRequest {
  /** Trimmed, 1 to searchPolicy.maxQueryChars characters (checked at the edge). */
  q: string;
  /** Only this conversation; the caller must be a member (else ConversationNotFoundError). */
  conversationId?: string | undefined;
  limit: number;
  /** nextCursor of the previous page. */
  cursor?: string | undefined;
}

export interface SearchResult {
  message: Message;
  conversationId: string;
  /** HTML-escaped text around the matches, each match in <mark>…</mark>. */
  headline: string;
}

export interface SearchPage {
  results: SearchResult[];
  /** Opaque; absent on the last page. */
  nextCursor: string | undefined;
}

/** Bumped when the shape of a cached page changes, so entries of the previous release are
 *  simply not found. */
const ENTRY_VERSION = 'v1';

const EMPTY_PAGE: SearchPage = { results: [], nextCursor: undefined };

export class MessageSearchService {
  readonly #postgres: Pool;
  readonly #cache: CacheNamespace<SearchPage>;
  readonly #generations: SearchGenerations;

  constructor(options: {
    postgres: Pool;
    /** The `search` namespace of the cache. */
    cache: CacheNamespace<SearchPage>;
    generations: SearchGenerations;
  }) {
    this.#postgres = options.postgres;
    this.#cache = options.cache;
    this.#generations = options.generations;
  }

  /** Newest first. A query without words (punctuation only) finds nothing. Throws
   *  InvalidSearchCursorError and ConversationNotFoundError. */
  async search(userId: string, request: SearchRequest): Promise<SearchPage> {
    const after = request.cursor === undefined ? undefined : decodeSearchCursor(request.cursor);
    const scope = await messageSearchRepository.scopeOf(
      this.#postgres,
      userId,
      request.conversationId,
    );
    if (request.conversationId !== undefined && scope.length === 0) {
      throw new ConversationNotFoundError(request.conversationId);
    }
    if (scope.length === 0) return EMPTY_PAGE;
    const load = () => this.#load(userId, scope, request, after);
    const generations = await this.#generations.current(scope.map((entry) => entry.conversationId));
    if (generations === undefined) return load();
    const page = await this.#cache.get(cacheId(userId, request, scope, generations), load);
    return page ?? EMPTY_PAGE;
  }

  async #load(
    userId: string,
    scope: readonly SearchScope[],
    request: SearchRequest,
    after: SearchPosition | undefined,
  ): Promise<SearchPage> {
    // One more than a page: whether another page exists is then known, not guessed.
    const hits = await messageSearchRepository.search(this.#postgres, {
      userId,
      scope,
      query: request.q,
      after,
      limit: request.limit + 1,
    });
    const page = hits.slice(0, request.limit);
    const last = page.at(-1);
    return {
      results: page.map((hit) => ({
        message: hit.message,
        conversationId: hit.message.conversationId,
        headline: hit.headline,
      })),
      nextCursor:
        hits.length > request.limit && last ? encodeSearchCursor(last.position) : undefined,
    };
  }
}

/** The entry id: the user (readable, for an operator looking for one user's entries) and a
 *  digest of everything else the answer depends on (see the header). */
function cacheId(
  userId: string,
  request: SearchRequest,
  scope: readonly SearchScope[],
  generations: readonly string[],
): string {
  const digest = createHash('sha256')
    .update(
      JSON.stringify([
        ENTRY_VERSION,
        request.q,
        request.conversationId ?? null,
        request.cursor ?? null,
        request.limit,
        scope.map((entry, index) => [
          entry.conversationId,
          entry.hiddenThroughSeq,
          generations[index],
        ]),
      ]),
    )
    .digest('hex')
    .slice(0, 24);
  return `${userId}:${digest}`;
}
