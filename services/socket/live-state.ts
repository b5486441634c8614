import { randomUUID } from 'node:crypto';
import type { ConversationService } from '../../lib/conversations/index.js';
import type { Logger } from '../../lib/observability/logger.js';
import { policy } from '../../lib/policy/policy.js';
import type { RateLimiter } from '../../lib/rate-limit/index.js';
import { conversationRoom } from '../../lib/realtime/events.js';
import type { Presence, RoomPresence, Typing } from '../../lib/realtime/index.js';
import { spend } from './conversation-handlers.js';
import { AckError, type Connection, type EventHandler } from './event-dispatch.js';
import type { QuadServer } from './socket-gateway.js';

interface Tracked {
  userId: string;
  /** `<instanceId>:<socketId>`: unique across every gateway instance. */
  connectionId: string;
  /** The conversation this tab shows (room presence), if any. */
  viewing: string | null;
  /** Conversations this connection signalled typing in, to stop them when it closes. */
  typingIn: Set<string>;
}

/**
 * Presence, room presence and typing on this gateway instance, over the Redis stores of
 * lib/realtime (shared by every instance, expiring by deadline so a SIGKILLed instance's
 * users go offline by themselves). This instance keeps only what it needs to refresh its own
 * connections: one heartbeat for all of them per interval, never a timer per socket. Every
 * transition the stores report exactly once (online, offline, started or stopped viewing or
 * typing) is broadcast from here; stores never reject, so a Redis outage only pauses presence.
 */
export class LiveState {
  readonly #io: QuadServer;
  readonly #presence: Presence;
  readonly #rooms: RoomPresence;
  readonly #typing: Typing;
  readonly #conversations: ConversationService;
  readonly #rateLimiter: RateLimiter;
  readonly #logger: Logger;
  readonly #instanceId = randomUUID();
  readonly #tracked = new Map<string, Tracked>();
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(options: {
    io: QuadServer;
    presence: Presence;
    rooms: RoomPresence;
    typing: Typing;
    conversations: ConversationService;
    rateLimiter: RateLimiter;
    logger: Logger;
  }) {
    this.#io = options.io;
    this.#presence = options.presence;
    this.#rooms = options.rooms;
    this.#typing = options.typing;
    this.#conversations = options.conversations;
    this.#rateLimiter = options.rateLimiter;
    this.#logger = options.logger;
  }

  /** Starts the heartbeat and the sweeps. Intervals follow the presence TTL (a third of it
   *  at most), so a short configured TTL still never lets a live connection expire. */
  start(): void {
    const third = Math.floor(this.#presence.ttlMs / 3);
    const every = (ms: number, task: () => Promise<void>) => {
      let running = false;
      const timer = setInterval(() => {
        if (running) return; // a slow round (Redis timing out) never piles up
        running = true;
        task()
          .catch((error: unknown) => this.#logger.warn({ err: error }, 'live-state task failed'))
          .finally(() => {
            running = false;
          });
      }, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(Math.min(policy.presence.heartbeatIntervalMs, third), () => this.#heartbeat());
    every(Math.min(policy.presence.sweepIntervalMs, third), () => this.#sweep());
    every(policy.presence.typingSweepIntervalMs, () => this.#sweepTyping());
  }

  stop(): void {
    for (const timer of this.#timers) clearInterval(timer);
  }

  async connected({ socket, userId }: Connection): Promise<void> {
    const connectionId = `${this.#instanceId}:${socket.id}`;
    this.#tracked.set(socket.id, { userId, connectionId, viewing: null, typingIn: new Set() });
    if (await this.#presence.connect(userId, connectionId)) {
      await this.#broadcastPresence(userId, true, null);
    }
  }

  async disconnected({ socket, userId }: Connection): Promise<void> {
    const tracked = this.#tracked.get(socket.id);
    if (!tracked) return;
    // Out of the heartbeat first, so no refresh re-adds the closed connection.
    this.#tracked.delete(socket.id);
    await Promise.all([
      ...[...tracked.typingIn].map((conversationId) => this.#stopTyping(conversationId, userId)),
      tracked.viewing ? this.#leaveView(tracked.viewing, userId, tracked.connectionId) : null,
    ]);
    const offline = await this.#presence.disconnect(userId, tracked.connectionId);
    if (offline?.wentOffline) await this.#broadcastPresence(userId, false, offline.lastSeenAt);
  }

  handlers() {
    const view: EventHandler<'conversation:view'> = async ({ socket, userId }, payload) => {
      const tracked = this.#trackedOf(socket.id);
      const next = payload.conversationId;
      if (next !== null) await this.#conversations.membership(next, userId);
      const previous = tracked.viewing;
      if (previous === next) {
        return { viewers: next ? ((await this.#rooms.viewers(next)) ?? []) : [] };
      }
      tracked.viewing = next;
      if (previous) await this.#leaveView(previous, userId, tracked.connectionId);
      if (next === null) return { viewers: [] };
      socket.join(conversationRoom(next)); // viewing a conversation implies its live events
      if (await this.#rooms.joinRoom(next, userId, tracked.connectionId)) {
        return { viewers: await this.#broadcastViewers(next) };
      }
      return { viewers: (await this.#rooms.viewers(next)) ?? [] };
    };

    const query: EventHandler<'presence:query'> = async (_connection, { userIds }) => {
      const answer = await this.#presence.presenceOf(userIds);
      if (!answer) throw new AckError('unavailable', 'presence is unavailable; retry shortly');
      return { presence: Object.fromEntries(answer) };
    };

    const typingStart: EventHandler<'typing:start'> = async ({ socket, userId }, payload) => {
      const { conversationId } = payload;
      await this.#conversations.membership(conversationId, userId);
      await spend(this.#rateLimiter, 'socket-typing', userId);
      this.#trackedOf(socket.id).typingIn.add(conversationId);
      if (await this.#typing.startTyping(conversationId, userId)) {
        this.#emitTyping(conversationId, userId, true);
      }
      return {};
    };

    const typingStop: EventHandler<'typing:stop'> = async ({ socket, userId }, payload) => {
      const { conversationId } = payload;
      await this.#conversations.membership(conversationId, userId);
      this.#trackedOf(socket.id).typingIn.delete(conversationId);
      await this.#stopTyping(conversationId, userId);
      return {};
    };

    return {
      'conversation:view': view,
      'presence:query': query,
      'typing:start': typingStart,
      'typing:stop': typingStop,
    };
  }

  #trackedOf(socketId: string): Tracked {
    const tracked = this.#tracked.get(socketId);
    // Events are dispatched only between connect and disconnect.
    if (!tracked) throw new AckError('unavailable', 'the connection is closing');
    return tracked;
  }

  async #heartbeat() {
    const connections = [...this.#tracked.values()];
    const views = connections.flatMap(({ userId, connectionId, viewing }) =>
      viewing ? [{ conversationId: viewing, userId, connectionId }] : [],
    );
    const [backOnline, backViewing] = await Promise.all([
      this.#presence.heartbeat(connections),
      this.#rooms.heartbeat(views),
    ]);
    // Expired and swept while this instance could not refresh (Redis away): back now.
    for (const userId of backOnline) await this.#broadcastPresence(userId, true, null);
    for (const conversationId of new Set(backViewing.map((view) => view.conversationId))) {
      await this.#broadcastViewers(conversationId);
    }
  }

  async #sweep() {
    const [offline, stoppedViewing] = await Promise.all([
      this.#presence.sweepExpired(),
      this.#rooms.sweepExpired(),
    ]);
    for (const { userId, lastSeenAt } of offline) {
      await this.#broadcastPresence(userId, false, lastSeenAt);
    }
    for (const conversationId of new Set(stoppedViewing.map((view) => view.conversationId))) {
      await this.#broadcastViewers(conversationId);
    }
  }

  async #sweepTyping() {
    for (const { conversationId, userId } of await this.#typing.sweepExpired()) {
      this.#emitTyping(conversationId, userId, false);
    }
  }

  async #stopTyping(conversationId: string, userId: string) {
    if (await this.#typing.stopTyping(conversationId, userId)) {
      this.#emitTyping(conversationId, userId, false);
    }
  }

  async #leaveView(conversationId: string, userId: string, connectionId: string) {
    if (await this.#rooms.leaveRoom(conversationId, userId, connectionId)) {
      await this.#broadcastViewers(conversationId);
    }
  }

  #emitTyping(conversationId: string, userId: string, typing: boolean) {
    this.#io
      .to(conversationRoom(conversationId))
      .emit('typing', { conversationId, userId, typing, emittedAt: Date.now() });
  }

  async #broadcastViewers(conversationId: string): Promise<string[]> {
    const userIds = (await this.#rooms.viewers(conversationId)) ?? [];
    this.#io
      .to(conversationRoom(conversationId))
      .emit('room:viewers', { conversationId, userIds, emittedAt: Date.now() });
    return userIds;
  }

  /** To everyone following any of the user's conversations: one publish for all the rooms. */
  async #broadcastPresence(userId: string, online: boolean, lastSeenAt: string | null) {
    const conversationIds = await this.#conversations.conversationIdsOf(userId);
    if (conversationIds.length === 0) return;
    // Being in a call is kept by the calls (api, worker), not by connections: read as it is.
    const inCall = (await this.#presence.presenceOf([userId]))?.get(userId)?.inCall ?? false;
    this.#io
      .to(conversationIds.map(conversationRoom))
      .emit('presence:changed', { userId, online, lastSeenAt, inCall, emittedAt: Date.now() });
  }
}
