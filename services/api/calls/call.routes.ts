import express, { type RequestHandler } from 'express';
import type { CallService, LiveKitWebhooks, WebhookOutcome } from '../../../lib/calls/index.js';
import type { ConversationService } from '../../../lib/conversations/index.js';
import { type ApiRoute, defineRoute } from '../../../lib/http/api-route.js';
import { policy } from '../../../lib/policy/policy.js';
import { requireCredentials, requirePrincipal, security } from '../authentication.js';
import { requireMembership } from '../conversations/conversation-access.js';
import {
  callHistorySchema,
  callKeySchema,
  callSchema,
  callSettingsSchema,
  conversationParams,
  joinAnswerSchema,
  liveCallsSchema,
  participantParams,
  toCall,
  toJoinAnswer,
  webhookAnswerSchema,
} from './call.schemas.js';

const tags = ['calls'];
const NOT_A_MEMBER = 'A conversation the caller is not in answers 404, as one that does not exist.';
const KEY =
  'The media key is end-to-end for LiveKit (the SFU forwards what it cannot read), fresh per call, kept only in Redis, and replaced whenever a participant leaves or is removed (docs/calls.md).';

export function callRoutes(deps: {
  calls: CallService;
  conversations: ConversationService;
}): ApiRoute[] {
  const { calls, conversations } = deps;
  const member = [requireCredentials, requireMembership(conversations)];
  return [
    defineRoute({
      method: 'post',
      path: '/conversations/:id/call',
      operationId: 'joinCall',
      summary: 'Start the conversation’s call, or join the one in progress',
      description: `One live call per conversation: members starting at once all get the same call. Answers a LiveKit token for this call's room only (valid ${policy.calls.tokenTtlSeconds} s; publishing only for owners and admins when the conversation is set to "only admins publish") and the call's current media key. ${KEY} ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: conversationParams,
      problems: ['not_found', 'calls_unavailable'],
      success: {
        status: 200,
        description: 'The call, a join token and its key',
        body: joinAnswerSchema,
      },
      authorize: member,
      handle: async ({ params }, req) =>
        toJoinAnswer(await calls.join(requirePrincipal(req).userId, params.id)),
    }),

    defineRoute({
      method: 'get',
      path: '/conversations/:id/call',
      operationId: 'getCall',
      summary: 'The live call: who is in it, since when, muted or not',
      description: `As LiveKit reports it (webhooks, checked against LiveKit's own list every few seconds). No live call answers 404. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: conversationParams,
      problems: ['not_found'],
      success: { status: 200, description: 'The call', body: callSchema },
      authorize: member,
      handle: async ({ params }, req) =>
        toCall(await calls.get(requirePrincipal(req).userId, params.id)),
    }),

    defineRoute({
      method: 'get',
      path: '/conversations/:id/call/key',
      operationId: 'getCallKey',
      summary: 'The live call’s current media key',
      description: `For a participant who missed a \`call:key\` push (a reconnect). ${KEY} No live call answers 404. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: conversationParams,
      problems: ['not_found', 'calls_unavailable'],
      success: { status: 200, description: 'The key and its index', body: callKeySchema },
      authorize: member,
      handle: async ({ params }, req) => calls.key(requirePrincipal(req).userId, params.id),
    }),

    defineRoute({
      method: 'post',
      path: '/conversations/:id/call/leave',
      operationId: 'leaveCall',
      summary: 'Leave the call on every device',
      description: `LiveKit disconnects the caller; the key is replaced for those who remain; the call ends with its last participant. No live call answers 404. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: conversationParams,
      problems: ['not_found'],
      success: { status: 204, description: 'Left' },
      authorize: member,
      async handle({ params }, req) {
        await calls.leave(requirePrincipal(req).userId, params.id);
        return undefined;
      },
    }),

    defineRoute({
      method: 'delete',
      path: '/conversations/:id/call',
      operationId: 'endCall',
      summary: 'End the call for everyone (owner or admin)',
      description: `LiveKit closes the room; the key is deleted; the history keeps the call. No live call answers 404. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: conversationParams,
      problems: ['not_found', 'forbidden'],
      success: { status: 204, description: 'Ended' },
      authorize: member,
      async handle({ params }, req) {
        await calls.end(requirePrincipal(req).userId, params.id);
        return undefined;
      },
    }),

    defineRoute({
      method: 'post',
      path: '/conversations/:id/call/participants/:userId/remove',
      operationId: 'removeCallParticipant',
      summary: 'Remove someone from the call (owner or admin)',
      description: `LiveKit disconnects them and the key is replaced for those who remain. They stay a member and may join again. No live call answers 404. ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: participantParams,
      problems: ['not_found', 'forbidden'],
      success: { status: 204, description: 'Removed' },
      authorize: member,
      async handle({ params }, req) {
        await calls.removeParticipant(requirePrincipal(req).userId, params.id, params.userId);
        return undefined;
      },
    }),

    defineRoute({
      method: 'put',
      path: '/conversations/:id/call/settings',
      operationId: 'setCallSettings',
      summary: 'Who publishes in this conversation’s calls (owner or admin)',
      description: `\`admins\`: members join as listeners (a lecture). Applies to join tokens handed out from now on (they live ${policy.calls.tokenTtlSeconds} s). ${NOT_A_MEMBER}`,
      tags,
      security: security.any,
      params: conversationParams,
      body: callSettingsSchema,
      problems: ['not_found', 'forbidden'],
      success: { status: 200, description: 'The settings', body: callSettingsSchema },
      authorize: member,
      handle: async ({ params, body }, req) =>
        calls.setPublishers(requirePrincipal(req).userId, params.id, body.publishers),
    }),

    defineRoute({
      method: 'get',
      path: '/calls/live',
      operationId: 'listLiveCalls',
      summary: 'The live calls of my conversations, with who is in each',
      description:
        'Who is in each call of my conversations, from PostgreSQL (the record, so every api instance agrees). The conversation list marks the same calls (`liveCall`) and presence says who is in a call (`inCall`); the socket events `call:*` and `presence:changed` keep both current.',
      tags,
      security: security.any,
      success: { status: 200, description: 'Live calls, newest first', body: liveCallsSchema },
      authorize: [requireCredentials],
      handle: async (_input, req) => {
        const rows = await calls.liveCalls(requirePrincipal(req).userId);
        return {
          calls: rows.map((row) => ({
            id: row.id,
            conversationId: row.conversationId,
            startedAt: row.startedAt.toISOString(),
            participantIds: row.participantIds,
          })),
        };
      },
    }),

    defineRoute({
      method: 'get',
      path: '/calls',
      operationId: 'listMyCalls',
      summary: 'My call history, newest first',
      description: `The ${policy.calls.historyPageSize} most recent calls I was in, with my own time in each (from PostgreSQL).`,
      tags,
      security: security.any,
      success: { status: 200, description: 'My calls', body: callHistorySchema },
      authorize: [requireCredentials],
      handle: async (_input, req) => {
        const rows = await calls.history(requirePrincipal(req).userId);
        return {
          calls: rows.map((row) => ({
            id: row.id,
            conversationId: row.conversationId,
            startedAt: row.startedAt.toISOString(),
            endedAt: row.endedAt?.toISOString() ?? null,
            endedReason: row.endedReason as 'empty' | 'ended_by_admin' | 'room_finished' | null,
            firstJoinedAt: row.firstJoinedAt.toISOString(),
            lastLeftAt: row.lastLeftAt?.toISOString() ?? null,
            secondsInCall: Math.max(0, row.secondsInCall),
          })),
        };
      },
    }),
  ];
}

const webhookOutcomes = new WeakMap<express.Request, WebhookOutcome>();

/**
 * LiveKit's webhook. Its caller proves itself by LiveKit's signature (a JWT over the body's
 * sha256, made with the API secret), not by a Quad credential, so the route is mounted before
 * the credential check (ApiCapability.signedRoutes) and reads its raw body itself: the
 * signature covers the exact bytes. Checking it is this route's authorization, so an unsigned
 * or forged request is refused (401) before anything else happens.
 */
export function liveKitWebhookRoute(webhooks: LiveKitWebhooks): ApiRoute {
  const rawBody = express.raw({ type: () => true, limit: policy.http.maxJsonBodyBytes });
  const verifyAndApply: RequestHandler = async (req, _res, next) => {
    const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
    // What the route validates below is the empty rest of the request, not LiveKit's event.
    req.body = undefined;
    webhookOutcomes.set(req, await webhooks.receive(body, req.get('authorization')));
    next();
  };
  return defineRoute({
    method: 'post',
    path: '/livekit/webhook',
    operationId: 'liveKitWebhook',
    summary: 'LiveKit’s webhook (called by LiveKit, not by clients)',
    description:
      'Signed by LiveKit (`Authorization`: a JWT made with the API secret over the body’s sha256); anything else answers 401 and changes nothing. Applied once per event id: a redelivery answers `duplicate`. Spends its own per-address budget (`livekit-webhook`), not the anonymous one: LiveKit posts every event of every call from one address.',
    tags: ['livekit'],
    security: security.public,
    success: { status: 200, description: 'Received', body: webhookAnswerSchema },
    authorize: [rawBody, verifyAndApply],
    handle: (_input, req) => ({ result: webhookOutcomes.get(req) ?? 'ignored' }),
  });
}
