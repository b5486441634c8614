import type { ConversationService } from '../../../lib/conversations/index.js';
import { type ApiRoute, defineRoute } from '../../../lib/http/api-route.js';
import type { PollService } from '../../../lib/polls/index.js';
import { requireCredentials, requirePrincipal, security } from '../authentication.js';
import { requireMembership } from '../conversations/conversation-access.js';
import {
  newPollBody,
  pollListParams,
  pollListQuery,
  pollListSchema,
  pollParams,
  pollSchema,
  toPoll,
  toPollList,
  voteBody,
} from './poll.schemas.js';

const tags = ['polls'];
const NOT_A_MEMBER = 'A conversation the caller is not in answers 404, as one that does not exist.';
const RESULTS =
  'Counts come from a Redis hash per poll that is moved by every committed vote and checked against the poll’s version in PostgreSQL, so they always equal a count of the votes stored.';

export function pollRoutes(deps: {
  polls: PollService;
  conversations: ConversationService;
}): ApiRoute[] {
  const { polls, conversations } = deps;
  const member = [requireCredentials, requireMembership(conversations)];
  return [
    defineRoute({
      method: 'post',
      path: '/conversations/:id/polls',
      operationId: 'createPoll',
      summary: 'Ask the conversation a question',
      description: `Any member creates a poll with 2 to 10 distinct options. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: pollListParams,
      body: newPollBody,
      problems: ['not_found'],
      success: { status: 201, description: 'The poll, with no votes yet', body: pollSchema },
      authorize: member,
      handle: async ({ params, body }, req) =>
        toPoll(await polls.create(requirePrincipal(req).userId, params.id, body)),
    }),

    defineRoute({
      method: 'get',
      path: '/conversations/:id/polls',
      operationId: 'listPolls',
      summary: 'The conversation’s polls, newest first, by cursor',
      description: `Each with its results and my vote. ${RESULTS} ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: pollListParams,
      query: pollListQuery,
      problems: ['not_found'],
      success: { status: 200, description: 'One page of polls', body: pollListSchema },
      authorize: member,
      handle: async ({ params, query }, req) =>
        toPollList(
          await polls.list(requirePrincipal(req).userId, params.id, {
            limit: query.limit,
            cursor: query.cursor,
          }),
        ),
    }),

    defineRoute({
      method: 'get',
      path: '/conversations/:id/polls/:pollId',
      operationId: 'getPoll',
      summary: 'A poll with its results and my vote',
      description: `${RESULTS} ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: pollParams,
      problems: ['not_found'],
      success: { status: 200, description: 'The poll', body: pollSchema },
      authorize: member,
      handle: async ({ params }, req) =>
        toPoll(await polls.get(requirePrincipal(req).userId, params.id, params.pollId)),
    }),

    defineRoute({
      method: 'put',
      path: '/conversations/:id/polls/:pollId/vote',
      operationId: 'votePoll',
      summary: 'Vote, or change my vote',
      description: `One vote per member and poll: voting again moves it to the new option, and repeating a vote changes nothing. A closed poll answers 409 poll_closed; an option of another poll answers 404. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: pollParams,
      body: voteBody,
      problems: ['not_found', 'poll_closed'],
      success: { status: 200, description: 'The poll after the vote', body: pollSchema },
      authorize: member,
      handle: async ({ params, body }, req) =>
        toPoll(
          await polls.vote(requirePrincipal(req).userId, params.id, params.pollId, body.optionId),
        ),
    }),

    defineRoute({
      method: 'delete',
      path: '/conversations/:id/polls/:pollId/vote',
      operationId: 'retractPollVote',
      summary: 'Withdraw my vote',
      description: `Without a vote, changes nothing. A closed poll answers 409 poll_closed. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: pollParams,
      problems: ['not_found', 'poll_closed'],
      success: { status: 200, description: 'The poll after the retract', body: pollSchema },
      authorize: member,
      handle: async ({ params }, req) =>
        toPoll(await polls.retract(requirePrincipal(req).userId, params.id, params.pollId)),
    }),

    defineRoute({
      method: 'post',
      path: '/conversations/:id/polls/:pollId/close',
      operationId: 'closePoll',
      summary: 'Close a poll (its creator, or an owner or admin of the conversation)',
      description: `Votes become final; results stay readable. Closing a closed poll changes nothing. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: pollParams,
      problems: ['forbidden', 'not_found'],
      success: { status: 200, description: 'The closed poll', body: pollSchema },
      authorize: member,
      handle: async ({ params }, req) =>
        toPoll(await polls.close(requirePrincipal(req).userId, params.id, params.pollId)),
    }),
  ];
}
