import type { Pool } from 'pg';
import type { Presence, RealtimeEmitter, RoomPresence, Typing } from '../realtime/index.js';
import { conversationRoom } from '../realtime/index.js';

export interface StaleRealtimeResult {
  offline: number;
  stoppedViewing: number;
  stoppedTyping: number;
}

/**
 * A safety net for presence, room and typing leftovers: runs the stores' sweeps, as every
 * socket gateway does every few seconds, and announces what they report exactly as the
 * gateway would (services/socket/live-state.ts), through the Socket.IO emitter. Each expired
 * entry is reported to one sweeper only, so when gateways run this almost always finds nothing;
 * it matters when none is running (all crashed, a rolling deploy), so that connections which
 * died with them do not leave users "online" or "typing" once gateways are back.
 */
export class StaleRealtimeSweep {
  readonly #stores: { presence: Presence; rooms: RoomPresence; typing: Typing };
  readonly #emitter: RealtimeEmitter;
  readonly #postgres: Pool;

  constructor(options: {
    presence: Presence;
    rooms: RoomPresence;
    typing: Typing;
    emitter: RealtimeEmitter;
    postgres: Pool;
  }) {
    this.#stores = options;
    this.#emitter = options.emitter;
    this.#postgres = options.postgres;
  }

  /** Which of `userIds` are in a call (kept by lib/calls, not by connections); none when
   *  Redis cannot say. */
  async #inCall(userIds: readonly string[]): Promise<Set<string>> {
    const { presence } = this.#stores;
    const inCall = new Set<string>();
    for (let start = 0; start < userIds.length; start += presence.maxBatchUsers) {
      const answer = await presence.presenceOf(
        userIds.slice(start, start + presence.maxBatchUsers),
      );
      for (const [userId, state] of answer ?? []) if (state.inCall) inCall.add(userId);
    }
    return inCall;
  }

  async run(): Promise<StaleRealtimeResult> {
    const { presence, rooms, typing } = this.#stores;
    const [offline, stoppedViewing, stoppedTyping] = await Promise.all([
      presence.sweepExpired(),
      rooms.sweepExpired(),
      typing.sweepExpired(),
    ]);
    for (const { conversationId, userId } of stoppedTyping) {
      this.#emitter
        .to(conversationRoom(conversationId))
        .emit('typing', { conversationId, userId, typing: false, emittedAt: Date.now() });
    }
    for (const conversationId of new Set(stoppedViewing.map((view) => view.conversationId))) {
      const userIds = (await rooms.viewers(conversationId)) ?? [];
      this.#emitter
        .to(conversationRoom(conversationId))
        .emit('room:viewers', { conversationId, userIds, emittedAt: Date.now() });
    }
    if (offline.length > 0) {
      const rows = await this.#postgres.query<{ user_id: string; conversation_ids: string[] }>(
        `SELECT user_id, array_agg(conversation_id) AS conversation_ids FROM conversation_members
         WHERE user_id = ANY($1::uuid[]) GROUP BY user_id`,
        [offline.map((user) => user.userId)],
      );
      const conversationsOf = new Map(rows.rows.map((row) => [row.user_id, row.conversation_ids]));
      const inCall = await this.#inCall(offline.map((user) => user.userId));
      for (const { userId, lastSeenAt } of offline) {
        const conversationIds = conversationsOf.get(userId) ?? [];
        if (conversationIds.length === 0) continue;
        this.#emitter.to(conversationIds.map(conversationRoom)).emit('presence:changed', {
          userId,
          online: false,
          lastSeenAt,
          inCall: inCall.has(userId),
          emittedAt: Date.now(),
        });
      }
    }
    return {
      offline: offline.length,
      stoppedViewing: stoppedViewing.length,
      stoppedTyping: stoppedTyping.length,
    };
  }
}
