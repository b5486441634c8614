import {
  CallPermissionError,
  type CallService,
  CallsUnavailableError,
  type LiveKitWebhooks,
  NoLiveCallError,
  WebhookSignatureError,
} from '../../../lib/calls/index.js';
import type { ConversationService } from '../../../lib/conversations/index.js';
import type { ProblemMapper } from '../../../lib/http/error-handler.js';
import { problemFor } from '../../../lib/http/problem-codes.js';
import { policy } from '../../../lib/policy/policy.js';
import type { ApiCapability } from '../api-capability.js';
import { callRoutes, liveKitWebhookRoute } from './call.routes.js';

const callProblems: ProblemMapper = (error) => {
  if (error instanceof NoLiveCallError) {
    return { problem: problemFor('not_found', { detail: 'The conversation has no live call.' }) };
  }
  if (error instanceof CallPermissionError) {
    return { problem: problemFor('forbidden', { detail: error.reason }) };
  }
  if (error instanceof CallsUnavailableError) {
    return {
      problem: problemFor('calls_unavailable', {
        detail: 'The call cannot be joined right now; retry shortly.',
      }),
      headers: { 'Retry-After': String(policy.http.unavailableRetryAfterSeconds) },
    };
  }
  if (error instanceof WebhookSignatureError) {
    return { problem: problemFor('unauthorized', { detail: 'Not signed by LiveKit.' }) };
  }
  return undefined;
};

/** Voice and video calls on LiveKit (docs/calls.md): the call routes, and LiveKit's webhook,
 *  which authenticates by its signature. */
export function callsCapability(services: {
  calls: CallService;
  webhooks: LiveKitWebhooks;
  conversations: ConversationService;
}): ApiCapability {
  return {
    name: 'calls',
    routes: callRoutes(services),
    signedRoutes: {
      rateLimitPolicy: 'livekit-webhook',
      routes: [liveKitWebhookRoute(services.webhooks)],
    },
    problems: callProblems,
  };
}
