/**
 * The numbers of message search, with their reasons. The cache entry TTL itself is the
 * `search` entry of lib/cache/cache.policies.ts (60 s); these are the search's own.
 */

const HOUR = 60 * 60 * 1_000;

export const searchPolicy = {
  /** Characters of a query, after trimming. 200 is a long sentence; a longer text is a paste,
   *  and websearch_to_tsquery's AND of every word would find nothing useful anyway. */
  maxQueryChars: 200,
  /** Results per page: default and upper bound. 20 fill a results list; each carries a
   *  highlighted excerpt (ts_headline re-parses the body), which is what makes a page cost. */
  defaultPageSize: 20,
  maxPageSize: 50,
  /** How long a conversation's search generation lives in the cache Redis after its last
   *  change. It must outlive the entries that recorded it (60 s); when it expires or is
   *  evicted, the next search mints a new one, which only costs a miss (never a stale hit).
   *  24 h keeps the generations of a school day's active conversations without holding those
   *  of every conversation ever written to. */
  generationTtlMs: 24 * HOUR,
  /** ts_headline options: the whole message when it is short, else about 10 to 30 words
   *  starting at the matches. Matches wrapped in <mark> (the excerpt is HTML-escaped text, see
   *  migrations/0006_message_search.sql). Fragment mode (MaxFragments) is not used: it cuts
   *  even a short message down to the words around the match. */
  headlineOptions: 'StartSel=<mark>, StopSel=</mark>, MinWords=10, MaxWords=30',
} as const;
