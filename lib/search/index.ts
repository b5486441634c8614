export {
  messageSearchRepository,
  type SearchHit,
  type SearchScope,
} from './message-search.repository.js';
export {
  MessageSearchService,
  type SearchPage,
  type SearchRequest,
  type SearchResult,
} from './message-search.service.js';
export { searchPolicy } from './search.policies.js';
export { decodeSearchCursor, encodeSearchCursor, type SearchPosition } from './search-cursor.js';
export { InvalidSearchCursorError } from './search-errors.js';
export { SearchGenerations, type SearchGenerationsOptions } from './search-generations.store.js';
