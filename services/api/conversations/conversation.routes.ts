import type {
  ConversationService,
  ReadReceiptService,
  UnreadCountsService,
} from '../../../lib/conversations/index.js';
import { type ApiRoute, defineRoute } from '../../../lib/http/api-route.js';
import { requireCredentials, requirePrincipal, security } from '../authentication.js';
import {
  addMemberBody,
  conversationListSchema,
  conversationParams,
  conversationSchema,
  markReadBody,
  memberParams,
  newConversationBody,
  readReceiptSchema,
  readReceiptsSchema,
  toConversation,
  toListItem,
  toReadReceipt,
  toUnreadCount,
  unreadCountsSchema,
} from './conversation.schemas.js';
import { conversationReader, requireMembership } from './conversation-access.js';

const tags = ['conversations'];
const NOT_A_MEMBER = 'A conversation the caller is not in answers 404, as one that does not exist.';

/** The live calls among some conversations (lib/calls' CallService.liveCallMarkers, when
 *  LiveKit is configured); undefined when they cannot be read. */
export type LiveCallLookup = (
  conversationIds: readonly string[],
) => Promise<
  ReadonlyMap<string, { callId: string; startedAt: Date; participantCount: number }> | undefined
>;

export function conversationRoutes(deps: {
  conversations: ConversationService;
  receipts: ReadReceiptService;
  unread: UnreadCountsService;
  liveCalls?: LiveCallLookup;
}): ApiRoute[] {
  const { conversations, receipts, unread, liveCalls } = deps;
  const member = [requireCredentials, requireMembership(conversations)];
  const reader = conversationReader(conversations);
  return [
    defineRoute({
      method: 'post',
      path: '/conversations',
      operationId: 'createConversation',
      summary: 'Start a direct conversation or create a group',
      description:
        'A direct conversation exists once per pair of people: asking again (even concurrently) returns the same one. A group is owned by its creator.',
      tags,
      security: security.any,
      body: newConversationBody,
      problems: ['conflict'],
      success: { status: 201, description: 'The conversation', body: conversationSchema },
      authorize: [requireCredentials],
      handle: async ({ body }, req) =>
        toConversation(await conversations.create(requirePrincipal(req).userId, body)),
    }),

    defineRoute({
      method: 'get',
      path: '/conversations',
      operationId: 'listConversations',
      summary:
        'My conversations, most recently active first, with their latest message and unread count',
      description:
        'Conversations I deleted for myself are left out until a newer message arrives. The unread counts of all of them are read from Redis in one round trip, and so are the calls in progress (`liveCall`).',
      tags,
      security: security.any,
      success: { status: 200, description: 'My conversations', body: conversationListSchema },
      authorize: [requireCredentials],
      handle: async (_input, req) => {
        const userId = requirePrincipal(req).userId;
        const summaries = await conversations.listMine(userId);
        const ids = summaries.map((summary) => summary.conversation.id);
        // The live-call marks never fail the list: without their Redis (or LiveKit configured)
        // the lookup answers undefined and every conversation shows no call.
        const [counts, calls] = await Promise.all([
          unread.countsFor(userId, ids),
          liveCalls?.(ids),
        ]);
        return {
          conversations: summaries.map((summary) =>
            toListItem(
              summary,
              counts.get(summary.conversation.id) ?? 0,
              calls?.get(summary.conversation.id),
            ),
          ),
        };
      },
    }),

    defineRoute({
      method: 'get',
      path: '/me/unread',
      operationId: 'listMyUnreadCounts',
      summary: 'Unread counts of all my conversations',
      description:
        'Unread: messages by others after my read receipt (and after my per-user delete), not deleted. Conversations I deleted for myself are left out, as in my list.',
      tags,
      security: security.any,
      success: { status: 200, description: 'My unread counts', body: unreadCountsSchema },
      authorize: [requireCredentials],
      handle: async (_input, req) => ({
        conversations: (await receipts.myUnreadCounts(requirePrincipal(req).userId)).map(
          toUnreadCount,
        ),
      }),
    }),

    defineRoute({
      method: 'post',
      path: '/conversations/:id/read',
      operationId: 'markConversationRead',
      summary: 'Mark read up to a message',
      description: `Receipts only move forward: marking an older message read again leaves the receipt where it is and answers it. A message I cannot see is 404. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: conversationParams,
      body: markReadBody,
      problems: ['not_found'],
      success: { status: 200, description: 'My receipt as it now stands', body: readReceiptSchema },
      authorize: member,
      handle: async ({ params, body }, req) =>
        toReadReceipt(
          await receipts.markRead(requirePrincipal(req).userId, params.id, body.upToMessageId),
        ),
    }),

    defineRoute({
      method: 'get',
      path: '/conversations/:id/receipts',
      operationId: 'listReadReceipts',
      summary: "Every member's last read message",
      description: NOT_A_MEMBER,
      tags,
      security: security.any,
      params: conversationParams,
      problems: ['not_found'],
      success: { status: 200, description: 'The receipts', body: readReceiptsSchema },
      authorize: member,
      handle: async ({ params }, req) => ({
        receipts: (await receipts.receipts(requirePrincipal(req).userId, params.id)).map(
          toReadReceipt,
        ),
      }),
    }),

    defineRoute({
      method: 'get',
      path: '/conversations/:id',
      operationId: 'getConversation',
      summary: 'One conversation and its members',
      description: NOT_A_MEMBER,
      tags,
      security: security.any,
      params: conversationParams,
      problems: ['not_found'],
      success: { status: 200, description: 'The conversation', body: conversationSchema },
      // The guard reads membership and the conversation together, before the query is
      // validated (a stranger's `?anything` is a 404 like any other stranger's request); the
      // handler answers with what it read.
      authorize: [requireCredentials, reader.guard],
      handle: async ({ params }, req) =>
        toConversation(await reader.conversation(req, requirePrincipal(req).userId, params.id)),
    }),

    defineRoute({
      method: 'delete',
      path: '/conversations/:id',
      operationId: 'deleteConversationForMe',
      summary: 'Delete a conversation for myself',
      description: `Hidden from me until a newer message arrives; I then see only messages after the deletion. Other members are not affected. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: conversationParams,
      problems: ['not_found'],
      success: { status: 204, description: 'Deleted for me' },
      authorize: member,
      async handle({ params }, req) {
        await conversations.deleteForMe(requirePrincipal(req).userId, params.id);
        return undefined;
      },
    }),

    defineRoute({
      method: 'post',
      path: '/conversations/:id/members',
      operationId: 'addConversationMember',
      summary: 'Add a member to a group (owners and admins; only the owner makes admins)',
      description: NOT_A_MEMBER,
      tags,
      security: security.any,
      params: conversationParams,
      body: addMemberBody,
      problems: ['forbidden', 'not_found', 'conflict'],
      success: { status: 200, description: 'The conversation', body: conversationSchema },
      authorize: member,
      handle: async ({ params, body }, req) =>
        toConversation(
          await conversations.addMember(
            requirePrincipal(req).userId,
            params.id,
            body.userId,
            body.role,
          ),
        ),
    }),

    defineRoute({
      method: 'delete',
      path: '/conversations/:id/members/:userId',
      operationId: 'removeConversationMember',
      summary: 'Remove a member from a group (the owner anyone, admins plain members)',
      description: NOT_A_MEMBER,
      tags,
      security: security.any,
      params: memberParams,
      problems: ['forbidden', 'not_found', 'conflict'],
      success: { status: 204, description: 'Removed' },
      authorize: member,
      async handle({ params }, req) {
        await conversations.removeMember(requirePrincipal(req).userId, params.id, params.userId);
        return undefined;
      },
    }),

    defineRoute({
      method: 'post',
      path: '/conversations/:id/leave',
      operationId: 'leaveConversation',
      summary: 'Leave a group',
      description: `An owner who leaves hands the group to the longest-standing admin, else member. A direct conversation is deleted for oneself instead (409). ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: conversationParams,
      problems: ['not_found', 'conflict'],
      success: { status: 204, description: 'Left' },
      authorize: member,
      async handle({ params }, req) {
        await conversations.leave(requirePrincipal(req).userId, params.id);
        return undefined;
      },
    }),
  ];
}
