import type { ConversationService, MessageService } from '../../../lib/conversations/index.js';
import { type ApiRoute, defineRoute } from '../../../lib/http/api-route.js';
import { type RateLimiter, rateLimitMiddleware } from '../../../lib/rate-limit/index.js';
import { principalOf, requireCredentials, requirePrincipal, security } from '../authentication.js';
import {
  conversationParams,
  editMessageBody,
  historyQuery,
  historySchema,
  messageParams,
  messageSchema,
  sendMessageBody,
  toMessage,
} from './conversation.schemas.js';
import { requireMembership } from './conversation-access.js';

const tags = ['messages'];
const NOT_A_MEMBER = 'A conversation the caller is not in answers 404, as one that does not exist.';

export function messageRoutes(deps: {
  messages: MessageService;
  conversations: ConversationService;
  rateLimiter: RateLimiter;
}): ApiRoute[] {
  const { messages, rateLimiter, conversations } = deps;
  const member = [requireCredentials, requireMembership(conversations)];
  return [
    defineRoute({
      method: 'post',
      path: '/conversations/:id/messages',
      operationId: 'sendMessage',
      summary: 'Send a message',
      description: `Idempotent per (sender, idempotencyKey): a retry returns the stored message with the same 201, as the original answer would have been (the client may never have seen it), instead of storing a second one. Limited by the message-send policy per user. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: conversationParams,
      body: sendMessageBody,
      problems: ['not_found', 'conflict', 'rate_limited'],
      success: {
        status: 201,
        description: 'The message (the stored one on a retry)',
        body: messageSchema,
      },
      authorize: member,
      limits: [
        // The same budget (and key) as the socket gateway's sends: switching transport does
        // not double it.
        rateLimitMiddleware(rateLimiter, {
          policy: 'message-send',
          subject: (req) => principalOf(req)?.userId,
        }),
      ],
      handle: async ({ params, body }, req) => {
        const sent = await messages.send(requirePrincipal(req).userId, params.id, body);
        return toMessage(sent.message);
      },
    }),

    defineRoute({
      method: 'get',
      path: '/conversations/:id/messages',
      operationId: 'listMessages',
      summary: 'Message history, newest first, by cursor',
      description: `The first page comes from the recent-messages cache (no PostgreSQL when warm). After a per-user delete only later messages are listed. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: conversationParams,
      query: historyQuery,
      problems: ['not_found'],
      success: { status: 200, description: 'One page of messages', body: historySchema },
      authorize: member,
      handle: async ({ params, query }, req) =>
        messages.history(requirePrincipal(req).userId, params.id, {
          limit: query.limit,
          cursor: query.cursor,
        }),
    }),

    defineRoute({
      method: 'patch',
      path: '/conversations/:id/messages/:messageId',
      operationId: 'editMessage',
      summary: 'Edit my message',
      description: NOT_A_MEMBER,
      tags,
      security: security.any,
      params: messageParams,
      body: editMessageBody,
      problems: ['forbidden', 'not_found'],
      success: { status: 200, description: 'The edited message', body: messageSchema },
      authorize: member,
      handle: async ({ params, body }, req) =>
        toMessage(
          await messages.edit(requirePrincipal(req).userId, params.id, params.messageId, body.body),
        ),
    }),

    defineRoute({
      method: 'delete',
      path: '/conversations/:id/messages/:messageId',
      operationId: 'deleteMessage',
      summary: 'Delete a message (its author, or an owner or admin of the conversation)',
      description: `Soft: the message keeps its place in history with its body removed. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: messageParams,
      problems: ['forbidden', 'not_found'],
      success: { status: 204, description: 'Deleted' },
      authorize: member,
      async handle({ params }, req) {
        await messages.delete(requirePrincipal(req).userId, params.id, params.messageId);
        return undefined;
      },
    }),
  ];
}
