import type { Request, RequestHandler } from 'express';
import { uuidField } from '../../../lib/accounts/index.js';
import type { Conversation, ConversationService } from '../../../lib/conversations/index.js';
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

/**
 * The same guard for `GET /conversations/:id`, which reads the conversation anyway: the guard
 * reads membership and the conversation together (ConversationService.get: one MGET, the
 * conversation returned only to a member), and the handler answers with what it read. Warm,
 * that is one Redis command for the guard and none for the handler, instead of one each: a
 * stranger still gets the 404 before validation.
 */
export function conversationReader(conversations: ConversationService) {
  const read = new WeakMap<Request, Conversation>();
  const guard: RequestHandler = async (req, _res, next) => {
    const principal = principalOf(req);
    if (!principal) throw new AuthenticationRequiredError(false);
    const id = req.params.id;
    if (typeof id === 'string' && uuidField.safeParse(id).success) {
      read.set(req, await conversations.get(principal.userId, id));
    }
    next();
  };
  return {
    guard,
    /** What the guard read for this request (or a read now, if it read nothing). */
    conversation: (req: Request, actorId: string, conversationId: string) =>
      read.get(req) ?? conversations.get(actorId, conversationId),
  };
}
