import type { ConversationService, MessageService } from '../../../lib/conversations/index.js';
import type { RateLimiter } from '../../../lib/rate-limit/index.js';
import type { ApiCapability } from '../api-capability.js';
import { conversationRoutes } from './conversation.routes.js';
import { conversationProblems } from './conversation-problems.js';
import { messageRoutes } from './message.routes.js';

export interface ConversationServices {
  conversations: ConversationService;
  messages: MessageService;
}

/** Conversations, members, per-user deletes and messages (messaging core, items 3 and 4). */
export function conversationsCapability(
  services: ConversationServices,
  deps: { rateLimiter: RateLimiter },
): ApiCapability {
  return {
    name: 'conversations',
    routes: [
      ...conversationRoutes({ conversations: services.conversations }),
      ...messageRoutes({ ...services, rateLimiter: deps.rateLimiter }),
    ],
    problems: conversationProblems,
  };
}
