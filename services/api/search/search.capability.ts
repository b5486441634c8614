import type { ConversationService } from '../../../lib/conversations/index.js';
import type { MessageSearchService } from '../../../lib/search/index.js';
import type { ApiCapability } from '../api-capability.js';
import { searchRoutes } from './search.routes.js';
import { searchProblems } from './search-problems.js';

/** Full-text search over the caller's messages (docs/api.md, "Search"). */
export function searchCapability(deps: {
  search: MessageSearchService;
  conversations: ConversationService;
}): ApiCapability {
  return { name: 'search', routes: searchRoutes(deps), problems: searchProblems };
}
