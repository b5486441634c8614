/*
 * What can go wrong with a search, as small named classes; services/api/search maps them.
 * A conversation filter the caller is not in raises ConversationNotFoundError, exactly as the
 * conversation routes do.
 */

/** A search cursor this service did not issue. */
export class InvalidSearchCursorError extends Error {
  constructor() {
    super('invalid search cursor');
    this.name = 'InvalidSearchCursorError';
  }
}
