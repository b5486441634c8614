import {
  ConversationNotFoundError,
  type MessagingServices,
} from '../../lib/conversations/index.js';
import { policy } from '../../lib/policy/policy.js';
import type { RateLimiter, RateLimitPolicyName } from '../../lib/rate-limit/index.js';
import { conversationRoom } from '../../lib/realtime/events.js';
import { AckError, type Connection, type EventHandler, toAckError } from './event-dispatch.js';
import type { SocketMetrics } from './socket-metrics.js';

/** Spends the user's shared budget of a policy (every instance, HTTP and socket alike). */
export async function spend(
  rateLimiter: RateLimiter,
  policyName: RateLimitPolicyName,
  userId: string,
): Promise<void> {
  const decision = await rateLimiter.check(policyName, userId);
  if (!decision.allowed) {
    throw new AckError(
      'rate_limited',
      `${policyName}: limit of ${decision.limit} per ${decision.windowMs / 1000} s reached`,
      Math.ceil(decision.retryAfterMs),
    );
  }
}

/**
 * Subscribing to conversations, sending, reading, and catching up. Every event is checked
 * against membership through ConversationService (the `permissions` cache: one Redis GET when
 * warm, invalidated when members or roles change); a conversation the user is not in is
 * `not_found`, exactly as over HTTP. Writes go through the same services as the api, so a
 * message sent here is committed to PostgreSQL first and broadcast by the same publisher.
 */
export function conversationHandlers(deps: {
  messaging: MessagingServices;
  rateLimiter: RateLimiter;
  metrics: SocketMetrics;
}) {
  const { messaging, rateLimiter, metrics } = deps;

  const join: EventHandler<'conversation:join'> = async ({ socket, userId }, payload) => {
    const joined: string[] = [];
    const refused: string[] = [];
    await Promise.all(
      payload.conversationIds.map(async (conversationId) => {
        try {
          await messaging.conversations.membership(conversationId, userId);
          joined.push(conversationId);
        } catch (error) {
          if (!(error instanceof ConversationNotFoundError)) throw error;
          refused.push(conversationId);
        }
      }),
    );
    socket.join(joined.map(conversationRoom));
    return { joined, refused };
  };

  const leave: EventHandler<'conversation:leave'> = async ({ socket }, { conversationId }) => {
    socket.leave(conversationRoom(conversationId));
    return {};
  };

  const send: EventHandler<'message:send'> = async ({ userId }, payload) => {
    // Membership first, so a stranger learns nothing from the rate limit either.
    await messaging.conversations.membership(payload.conversationId, userId);
    await spend(rateLimiter, 'message-send', userId);
    const { message, created } = await messaging.messages.send(userId, payload.conversationId, {
      body: payload.body,
      idempotencyKey: payload.idempotencyKey,
    });
    return { message, created };
  };

  const read: EventHandler<'message:read'> = async ({ userId }, payload) => {
    const receipt = await messaging.receipts.markRead(
      userId,
      payload.conversationId,
      payload.upToMessageId,
    );
    return { receipt };
  };

  /** Each conversation answers on its own: one the user left is `not_found` beside the
   *  others' messages, not a failure of the whole catch-up. */
  const sync: EventHandler<'sync'> = async ({ userId }, payload) => {
    const conversations = await Promise.all(
      payload.conversations.map(async ({ conversationId, lastMessageId }) => {
        try {
          const { messages, complete } = await messaging.messages.since(
            userId,
            conversationId,
            lastMessageId,
            policy.realtime.catchUpPageSize,
          );
          metrics.catchUps.inc();
          metrics.catchUpMessages.inc(messages.length);
          return { conversationId, messages, complete };
        } catch (error) {
          const failure = toAckError(error);
          if (failure.code === 'internal' || failure.code === 'unavailable') throw error;
          return { conversationId, error: failure };
        }
      }),
    );
    return { conversations };
  };

  return {
    'conversation:join': join,
    'conversation:leave': leave,
    'message:send': send,
    'message:read': read,
    sync,
  };
}

export type ConversationHandlers = ReturnType<typeof conversationHandlers>;
export type { Connection };
