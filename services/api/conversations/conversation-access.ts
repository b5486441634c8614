import type { RequestHandler } from 'express';
import { uuidField } from '../../../lib/accounts/index.js';
import type { ConversationService } from '../../../lib/conversations/index.js';
import { AuthenticationRequiredError, principalOf } from '../authentication.js';

/**
 * Guard for every route under /conversations/:id: a caller who is not a member gets 404 before
 * the request is validated, so nothing about the body or query (not even that it was read)
 * reaches a stranger. Warm, one Redis GET (the `permissions` namespace); the services check
 * membership again, so this guard is about what a stranger learns, not the only line of defence.
 * An id that is not a UUID passes on to validation: its 400 tells nothing about any
 * conversation.
 */
export function requireMembership(conversations: ConversationService): RequestHandler {
  return async (req, _res, next) => {
    const principal = principalOf(req);
    if (!principal) throw new AuthenticationRequiredError(false);
    const id = req.params.id;
    if (typeof id === 'string' && uuidField.safeParse(id).success) {
      await conversations.membership(id, principal.userId);
    }
    next();
  };
}
