import type { RequestHandler } from 'express';
import { uuidField } from '../../../lib/accounts/index.js';
import type { ConversationService } from '../../../lib/conversations/index.js';
import { type ApiRoute, defineRoute } from '../../../lib/http/api-route.js';
import type { MessageSearchService } from '../../../lib/search/index.js';
import {
  AuthenticationRequiredError,
  principalOf,
  requireCredentials,
  requirePrincipal,
  security,
} from '../authentication.js';
import { searchPageSchema, searchQuery, toSearchPage } from './search.schemas.js';

const tags = ['search'];

/**
 * A conversation filter the caller is not in answers 404 before the query string is validated,
 * as every /conversations/:id route does (services/api/conversations/conversation-access.ts):
 * a stranger learns nothing from validation messages. The service checks membership again
 * (from PostgreSQL), so this guard is about what a stranger learns, not the only defence.
 */
function requireFilterMembership(conversations: ConversationService): RequestHandler {
  return async (req, _res, next) => {
    const principal = principalOf(req);
    if (!principal) throw new AuthenticationRequiredError(false);
    const id = req.query.conversationId;
    if (typeof id === 'string' && uuidField.safeParse(id).success) {
      await conversations.membership(id, principal.userId);
    }
    next();
  };
}

export function searchRoutes(deps: {
  search: MessageSearchService;
  conversations: ConversationService;
}): ApiRoute[] {
  const { search, conversations } = deps;
  return [
    defineRoute({
      method: 'get',
      path: '/search',
      operationId: 'searchMessages',
      summary: 'Search the messages of my conversations, newest first, by cursor',
      description:
        'Full-text search over the messages of every conversation the caller is a member of now (or of one, with conversationId). Deleted messages, and messages a per-user delete hid from the caller, are never found. Results are cached for up to a minute per user and query, and a new, edited or deleted message in any of the caller’s conversations shows in the very next search. A conversationId the caller is not in answers 404, as one that does not exist.',
      tags,
      security: security.any,
      query: searchQuery,
      problems: ['not_found'],
      success: { status: 200, description: 'One page of results', body: searchPageSchema },
      authorize: [requireCredentials, requireFilterMembership(conversations)],
      handle: async ({ query }, req) =>
        toSearchPage(
          await search.search(requirePrincipal(req).userId, {
            q: query.q,
            conversationId: query.conversationId,
            limit: query.limit,
            cursor: query.cursor,
          }),
        ),
    }),
  ];
}
