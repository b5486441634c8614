import { conversationProblems } from '../../../lib/conversations/conversation-problems.js';
import type { MessagingServices } from '../../../lib/conversations/index.js';
import type { RateLimiter } from '../../../lib/rate-limit/index.js';
import type { ApiCapability } from '../api-capability.js';
import { conversationRoutes, type LiveCallLookup } from './conversation.routes.js';
import { messageRoutes } from './message.routes.js';

/** Conversations, members, per-user deletes, messages, read receipts and unread counts
 *  (docs/api.md). */
export function conversationsCapability(
  services: MessagingServices,
  deps: { rateLimiter: RateLimiter; liveCalls?: LiveCallLookup },
): ApiCapability {
  return {
    name: 'conversations',
    routes: [
      ...conversationRoutes({ ...services, liveCalls: deps.liveCalls }),
      ...messageRoutes({ ...services, rateLimiter: deps.rateLimiter }),
    ],
    problems: conversationProblems,
  };
}
