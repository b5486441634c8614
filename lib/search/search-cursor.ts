import { InvalidSearchCursorError } from './search-errors.js';

/*
 * Search cursors are opaque to clients: base64url of `v1:<created_at>:<id>` of the last result
 * of a page. Results span conversations, so no conversation's sequence orders them; they are
 * ordered newest first by (created_at, id), a total order (id breaks ties), and the next page is
 * everything strictly after the cursor in that order: no result twice, none skipped. created_at
 * travels with its microseconds (PostgreSQL's precision; a JavaScript Date keeps milliseconds,
 * which would repeat or skip messages created in the same millisecond). Edits keep created_at,
 * so an edited message keeps its place.
 */

/** Where the next page starts after: the last result of the previous one. */
export interface SearchPosition {
  /** ISO 8601 in UTC with microseconds, as PostgreSQL gave it: 2026-01-02T03:04:05.123456Z. */
  createdAt: string;
  id: string;
}

const CURSOR =
  /^v1:((?:19[7-9]\d|[2-9]\d{3})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function encodeSearchCursor(position: SearchPosition): string {
  return Buffer.from(`v1:${position.createdAt}:${position.id}`, 'utf8').toString('base64url');
}

/** The position to continue after; throws InvalidSearchCursorError for anything that
 *  encodeSearchCursor did not produce, before it can reach PostgreSQL (a 31 February would
 *  otherwise be a database error). */
export function decodeSearchCursor(cursor: string): SearchPosition {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const createdAt = match?.[1];
  const id = match?.[2];
  if (createdAt === undefined || id === undefined) throw new InvalidSearchCursorError();
  // A real instant: the millisecond part must survive a round trip through Date.
  const milliseconds = `${createdAt.slice(0, 23)}Z`;
  const parsed = new Date(milliseconds);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString() !== milliseconds) {
    throw new InvalidSearchCursorError();
  }
  return { createdAt, id };
}
