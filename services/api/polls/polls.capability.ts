import type { ConversationService } from '../../../lib/conversations/index.js';
import type { PollService } from '../../../lib/polls/index.js';
import type { ApiCapability } from '../api-capability.js';
import { pollRoutes } from './poll.routes.js';
import { pollProblems } from './poll-problems.js';

/** Polls in conversations (docs/api.md). Membership comes from the conversations
 *  capability's service, so a stranger gets the same 404 as on every conversation route. */
export function pollsCapability(services: {
  polls: PollService;
  conversations: ConversationService;
}): ApiCapability {
  return { name: 'polls', routes: pollRoutes(services), problems: pollProblems };
}
