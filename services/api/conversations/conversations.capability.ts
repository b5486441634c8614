import type { MessagingServices } from '../../../lib/conversations/index.js';
import type { RateLimiter } from '../../../lib/rate-limit/index.js';
import type { ApiCapability } from '../api-capability.js';
import { conversationRoutes } from './conversation.routes.js';
import { conversationProblems } from './conversation-problems.js';
import { messageRoutes } from './message.routes.js';

/** Conversations, members, per-user deletes, messages, read receipts and unread counts
 *  (messaging core, items 3 to 5). */
export function conversationsCapability(
  services: MessagingServices,
  deps: { rateLimiter: RateLimiter },
): ApiCapability {
  return {
    name: 'conversations',
    routes: [
      ...conversationRoutes(services),
      ...messageRoutes({ ...services, rateLimiter: deps.rateLimiter }),
    ],
    problems: conversationProblems,
  };
}
