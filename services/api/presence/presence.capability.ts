import { z } from 'zod';
import { uuidField } from '../../../lib/accounts/index.js';
import { type ApiRoute, defineRoute } from '../../../lib/http/api-route.js';
import { problemFor } from '../../../lib/http/problem-codes.js';
import { policy } from '../../../lib/policy/policy.js';
import type { Presence } from '../../../lib/realtime/index.js';
import type { ApiCapability } from '../api-capability.js';
import { requireCredentials, security } from '../authentication.js';

/** Presence lives only in Redis (it is about live connections); without Redis it is unknown. */
export class PresenceUnavailableError extends Error {
  constructor() {
    super('presence is unavailable');
    this.name = 'PresenceUnavailableError';
  }
}

const presenceQueryBody = z
  .strictObject({
    userIds: z.array(uuidField).min(1).max(policy.presence.maxBatchUsers),
  })
  .meta({ id: 'PresenceQuery' });

const userPresenceSchema = z.object({
  online: z.boolean(),
  lastSeenAt: z.iso.datetime().nullable().meta({
    description: 'When the user was last online; null while online or when not known',
  }),
  inCall: z.boolean().meta({
    description:
      'In a call of any conversation, online or not. Which one is not said here (the conversation list shows its members the conversations with a live call).',
  }),
});

const presenceAnswerSchema = z
  .object({ presence: z.record(z.string(), userPresenceSchema) })
  .meta({ id: 'PresenceAnswer' });

function presenceRoutes(presence: Presence): ApiRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/presence/query',
      operationId: 'queryPresence',
      summary: 'Presence of up to 500 users at once',
      description: `Online means at least one live connection on any gateway instance (tabs and devices alike); in a call, that LiveKit reports the user in the call of any conversation. One round trip to Redis for the whole batch; at most ${policy.presence.maxBatchUsers} ids. The socket gateway answers the same question with the presence:query event. Presence exists only in Redis, so while Redis is unavailable this answers 503.`,
      tags: ['presence'],
      security: security.any,
      body: presenceQueryBody,
      problems: ['presence_unavailable'],
      success: {
        status: 200,
        description: 'Presence per requested id',
        body: presenceAnswerSchema,
      },
      authorize: [requireCredentials],
      handle: async ({ body }) => {
        const answer = await presence.presenceOf(body.userIds);
        if (!answer) throw new PresenceUnavailableError();
        return { presence: Object.fromEntries(answer) };
      },
    }),
  ];
}

/** Batch presence over HTTP (docs/api.md), from the same Redis store the gateway keeps. */
export function presenceCapability(presence: Presence): ApiCapability {
  return {
    name: 'presence',
    routes: presenceRoutes(presence),
    problems: (error) =>
      error instanceof PresenceUnavailableError
        ? {
            problem: problemFor('presence_unavailable', {
              detail: 'Presence cannot be read right now; retry shortly.',
            }),
            headers: { 'Retry-After': String(policy.http.unavailableRetryAfterSeconds) },
          }
        : undefined,
  };
}
