import { Counter, type Registry } from 'prom-client';
import type { AccountEvents } from '../accounts/index.js';
import type { Message, MessagingEvents, ReadReceipt } from '../conversations/index.js';
import type { Logger } from '../observability/logger.js';
import { withSpan } from '../observability/trace-context.js';
import type { RedisClient } from '../redis/redis-client.js';
import { conversationRoom, type ServerEvents, sessionRoom, userRoom } from './events.js';
import { createRealtimeEmitter, type RealtimeEmitter } from './realtime-emitter.js';
import { tolerantPublisher } from './tolerant-publisher.js';

const outcomeTrue = () => true;
const outcomeFalse = () => false;

/**
 * Turns what the domain services announce after a commit into Socket.IO events for every
 * gateway instance, through Redis (realtime-emitter.ts: the Socket.IO emitter on a single
 * Redis, SPUBLISH in the sharded adapter's protocol on a cluster). Used by the api (messages
 * sent over HTTP reach sockets on every instance), the socket gateway (sends over WebSockets
 * take the same path) and the worker. Each messaging method resolves whether every publish it
 * made reached Redis (never rejects): while Redis is down an event is counted and dropped here,
 * the service leaves its outbox row unpublished, and the worker's outbox relay publishes it
 * again once Redis answers (lib/outbox/).
 */
export class RealtimePublisher implements MessagingEvents, AccountEvents {
  readonly #emitter: RealtimeEmitter;
  readonly #published: Counter<'event'>;
  /** The outcomes of the publishes the emitter makes during one synchronous #capture call. */
  #captured: Array<Promise<boolean>> | undefined;

  constructor(options: {
    redis: RedisClient;
    keyPrefix: string;
    registry: Registry;
    logger: Logger;
  }) {
    const failures = new Counter({
      name: 'realtime_publish_errors_total',
      help: 'Real-time events that could not be published to Redis (dropped; clients catch up)',
      registers: [options.registry],
    });
    this.#published = new Counter({
      name: 'realtime_events_published_total',
      help: 'Real-time events handed to Redis for every gateway instance, by event',
      labelNames: ['event'],
      registers: [options.registry],
    });
    // The emitter publishes synchronously and drops the promise; this proxy hands each one to
    // the #capture in progress, so the caller learns whether its event reached Redis.
    const capturing = new Proxy(options.redis, {
      get: (target, property, receiver) => {
        if (property === 'publish' || property === 'spublish') {
          return (channel: string, message: string | Buffer) => {
            const sent = target[property](channel, message);
            this.#captured?.push(sent.then(outcomeTrue, outcomeFalse));
            return sent;
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const redis = tolerantPublisher(capturing, (error) => {
      failures.inc();
      options.logger.warn({ err: String(error) }, 'real-time publish to redis failed');
    });
    this.#emitter = createRealtimeEmitter(redis, options.keyPrefix);
  }

  messageCreated(message: Message): Promise<boolean> {
    return this.#capture(() =>
      this.#emit([conversationRoom(message.conversationId)], 'message:new', { message }),
    );
  }

  messageChanged(message: Message): Promise<boolean> {
    return this.#capture(() =>
      this.#emit([conversationRoom(message.conversationId)], 'message:updated', { message }),
    );
  }

  receiptAdvanced(
    conversationId: string,
    receipt: ReadReceipt,
    unreadCount: number,
  ): Promise<boolean> {
    return this.#capture(() => {
      this.#emit([conversationRoom(conversationId)], 'receipt:updated', {
        conversationId,
        receipt,
      });
      this.#emit([userRoom(receipt.userId)], 'unread:updated', { conversationId, unreadCount });
    });
  }

  membersChanged(
    conversationId: string,
    change: { added: readonly string[]; removed: readonly string[] },
  ): Promise<boolean> {
    const added = [...change.added];
    const removed = [...change.removed];
    return this.#capture(() => {
      // One publish reaches the room and every affected user's devices, each socket once.
      this.#emit(
        [conversationRoom(conversationId), ...[...added, ...removed].map(userRoom)],
        'conversation:members',
        { conversationId, added, removed },
      );
      // Removed members stop receiving the room's events on every instance at once.
      if (removed.length > 0) {
        this.#emitter.in(removed.map(userRoom)).socketsLeave(conversationRoom(conversationId));
      }
    });
  }

  /** A call's change (lib/calls), to the conversation's room and every member's devices, each
   *  socket once. Resolves whether it reached Redis. */
  callChanged<
    E extends 'call:started' | 'call:participant-joined' | 'call:participant-left' | 'call:ended',
  >(
    memberIds: readonly string[],
    event: E,
    payload: Omit<Parameters<ServerEvents[E]>[0], 'emittedAt'> & { conversationId: string },
  ): Promise<boolean> {
    return this.#capture(() =>
      this.#emit(
        [conversationRoom(payload.conversationId), ...memberIds.map(userRoom)],
        event,
        payload,
      ),
    );
  }

  /** A user's presence changed where the gateway does not see it (they went into or out of a
   *  call): to the rooms of their conversations, one publish for all. */
  presenceChanged(
    conversationIds: readonly string[],
    payload: Omit<Parameters<ServerEvents['presence:changed']>[0], 'emittedAt'>,
  ): Promise<boolean> {
    if (conversationIds.length === 0) return Promise.resolve(true);
    return this.#capture(() =>
      this.#emit(conversationIds.map(conversationRoom), 'presence:changed', payload),
    );
  }

  /** A call's media key, to the devices of `userIds` only (never a room others share). */
  callKey(
    userIds: readonly string[],
    payload: Omit<Parameters<ServerEvents['call:key']>[0], 'emittedAt'>,
  ): Promise<boolean> {
    if (userIds.length === 0) return Promise.resolve(true);
    return this.#capture(() => this.#emit(userIds.map(userRoom), 'call:key', payload));
  }

  async sessionRevoked(sessionId: string): Promise<void> {
    this.#disconnect(sessionRoom(sessionId));
  }

  async allSessionsRevoked(userId: string): Promise<void> {
    this.#disconnect(userRoom(userId));
  }

  #disconnect(room: string) {
    this.#emit([room], 'quad:disconnecting', {
      code: 'session_revoked',
      detail: 'the session was revoked; log in again',
    });
    // Same subscriber connection on every instance, so the notice arrives before the close.
    this.#emitter.in(room).disconnectSockets(true);
  }

  /** Runs `publish` (synchronous emitter calls) and resolves whether all it sent reached Redis. */
  async #capture(publish: () => void): Promise<boolean> {
    const captured: Array<Promise<boolean>> = [];
    this.#captured = captured;
    try {
      publish();
    } finally {
      this.#captured = undefined;
    }
    return (await Promise.all(captured)).every(Boolean);
  }

  #emit<E extends keyof ServerEvents>(
    rooms: string[],
    event: E,
    payload: Omit<Parameters<ServerEvents[E]>[0], 'emittedAt'>,
  ) {
    const stamped = { ...payload, emittedAt: Date.now() } as Parameters<ServerEvents[E]>[0];
    // A span of its own: the PUBLISH under it is the emit every gateway's sockets receive.
    withSpan(
      `socket.io emit ${event}`,
      { 'messaging.system': 'socket.io', 'messaging.destination.name': rooms.join(',') },
      () => this.#emitter.to(rooms).emit(event, ...([stamped] as Parameters<ServerEvents[E]>)),
    );
    this.#published.inc({ event });
  }
}
