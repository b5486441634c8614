import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import type { ConversationService } from '../conversations/index.js';
import type { Logger } from '../observability/logger.js';
import type { CallOutboxEvent } from '../outbox/outbox.types.js';
import type { OutboxWriter } from '../outbox/outbox-writer.js';
import { policy } from '../policy/policy.js';
import { inTransaction } from '../postgres/transaction.js';
import type { Presence, RealtimePublisher } from '../realtime/index.js';
import { RedisCommandTimeoutError } from '../redis/node-redis-client.js';
import { RedisUnavailableError } from '../redis/redis-breaker.js';
import { type CallRow, callRepository as calls } from './call.repository.js';
import { CallPermissionError, CallsUnavailableError, NoLiveCallError } from './call-errors.js';
import { type CallMetrics, callMetrics } from './call-metrics.js';
import type { CallKey, CallParticipantState, CallStateStore } from './call-state.store.js';
import { type LiveKit, roomOfCall } from './livekit.js';

export interface CallView {
  id: string;
  conversationId: string;
  startedBy: string;
  startedAt: Date;
  participants: CallParticipantState[];
}

export interface JoinAnswer {
  call: CallView;
  livekit: { url: string; token: string };
  e2ee: CallKey;
}

/** The conversation list's mark of a live call (GET /conversations). */
export interface LiveCallMarker {
  callId: string;
  startedAt: Date;
  participantCount: number;
}

/** What calls tell presence (lib/realtime): who is in a call, shown as "in a call". */
export type CallPresence = Pick<Presence, 'enteredCall' | 'leftCall' | 'presenceOf'>;

type EndReason = NonNullable<CallRow['endedReason']>;

/**
 * Calls in conversations on LiveKit. PostgreSQL records which call is live where, who is in it
 * and the index of its media key (the history, and what Redis is rebuilt from); Redis holds the
 * live view (CallStateStore) and the media key, which is nowhere else. What LiveKit reports
 * (webhooks, and its server API read by the reconciler) decides who is in a call: a token only
 * says who may join.
 *
 * Every change is committed with its outbox row and announced after the commit (the worker's
 * relay announces it again if that publish was lost). The media key never goes through the
 * outbox: it is handed over in the join answer, on GET .../call/key, and pushed to the
 * participants' own devices at each rotation.
 */
export class CallService {
  readonly #postgres: Pool;
  readonly #conversations: ConversationService;
  readonly #store: CallStateStore;
  readonly #livekit: LiveKit;
  readonly #outbox: OutboxWriter;
  readonly #events: RealtimePublisher | undefined;
  readonly #presence: CallPresence | undefined;
  readonly #logger: Logger;
  readonly metrics: CallMetrics;
  readonly #rotationTimers = new Set<NodeJS.Timeout>();

  constructor(options: {
    postgres: Pool;
    conversations: ConversationService;
    store: CallStateStore;
    livekit: LiveKit;
    outbox: OutboxWriter;
    events?: RealtimePublisher;
    presence?: CallPresence;
    logger: Logger;
    registry: Registry;
  }) {
    this.#postgres = options.postgres;
    this.#conversations = options.conversations;
    this.#store = options.store;
    this.#livekit = options.livekit;
    this.#outbox = options.outbox;
    this.#events = options.events;
    this.#presence = options.presence;
    this.#logger = options.logger.child({ component: 'calls' });
    this.metrics = callMetrics(options.registry);
  }

  /** Starts the conversation's call, or joins the live one: a token for its room, and its key. */
  async join(userId: string, conversationId: string): Promise<JoinAnswer> {
    const membership = await this.#conversations.membership(conversationId, userId);
    const { call, startedOutboxId } = await this.#liveOrNew(conversationId, userId);
    if (startedOutboxId !== undefined) {
      await this.#published(startedOutboxId, {
        type: 'call.started',
        conversationId,
        payload: {
          callId: call.id,
          startedBy: call.startedBy,
          startedAt: call.startedAt.toISOString(),
        },
      });
    }
    const key = await this.#currentKey(call);
    await this.#tolerateRedis(() =>
      this.#store.saveSession({ conversationId, callId: call.id, startedAt: call.startedAt }),
    );
    const publishers = await calls.callSettings(this.#postgres, conversationId);
    const canPublish = publishers === 'members' || membership.role !== 'member';
    const token = await this.#livekit.joinToken({
      room: roomOfCall(call.id),
      identity: userId,
      name: await calls.displayName(this.#postgres, userId),
      canPublish,
    });
    return {
      call: await this.#view(call),
      livekit: { url: this.#livekit.url, token },
      e2ee: key,
    };
  }

  /** The live call with who is in it; NoLiveCallError without one. */
  async get(userId: string, conversationId: string): Promise<CallView> {
    await this.#conversations.membership(conversationId, userId);
    const call = await calls.live(this.#postgres, conversationId);
    if (!call) throw new NoLiveCallError(conversationId);
    return this.#view(call);
  }

  /** The current media key, for a member who is in the call (a missed push, a reconnect). */
  async key(userId: string, conversationId: string): Promise<CallKey> {
    await this.#conversations.membership(conversationId, userId);
    const call = await calls.live(this.#postgres, conversationId);
    if (!call) throw new NoLiveCallError(conversationId);
    return this.#currentKey(call);
  }

  /** Leaves the call (all of the caller's devices): LiveKit disconnects them, the key rotates. */
  async leave(userId: string, conversationId: string): Promise<void> {
    await this.#conversations.membership(conversationId, userId);
    const call = await calls.live(this.#postgres, conversationId);
    if (!call) throw new NoLiveCallError(conversationId);
    await this.#disconnect(call, userId);
    if (!(await this.participantLeft(call.id, userId, new Date()))) await this.#endIfEmpty(call);
  }

  /** An owner or admin removes someone from the call (they may rejoin: they are a member). */
  async removeParticipant(actorId: string, conversationId: string, userId: string) {
    const membership = await this.#conversations.membership(conversationId, actorId);
    if (membership.role === 'member') {
      throw new CallPermissionError('only owners and admins remove participants');
    }
    const call = await calls.live(this.#postgres, conversationId);
    if (!call) throw new NoLiveCallError(conversationId);
    await this.#disconnect(call, userId);
    if (!(await this.participantLeft(call.id, userId, new Date()))) await this.#endIfEmpty(call);
  }

  /**
   * After a leave or a removal that someone else recorded first: the disconnect makes LiveKit
   * send participant_left, and when that webhook records the leave, it is the one that ends an
   * emptied call, a moment after this request would answer. Whoever asked must see the call
   * over once they have the answer, so the request ends it too (ending is idempotent: one of
   * the two ends it). Only here, not in participantLeft: a call nobody has connected to yet is
   * empty too, and the webhooks and the reconciler leave it its grace period.
   */
  async #endIfEmpty(call: CallRow): Promise<void> {
    if ((await calls.present(this.#postgres, call.id)).length > 0) return;
    const current = await calls.byId(this.#postgres, call.id);
    if (current && !current.endedAt) await this.endCall(call, 'empty');
  }

  /** An owner or admin ends the call for everyone. */
  async end(actorId: string, conversationId: string): Promise<void> {
    const membership = await this.#conversations.membership(conversationId, actorId);
    if (membership.role === 'member') {
      throw new CallPermissionError('only owners and admins end a call for everyone');
    }
    const call = await calls.live(this.#postgres, conversationId);
    if (!call) throw new NoLiveCallError(conversationId);
    await this.endCall(call, 'ended_by_admin');
  }

  /** The live calls of my conversations and who is in each, from PostgreSQL. */
  liveCalls(userId: string) {
    return calls.liveForMember(this.#postgres, userId);
  }

  /**
   * The live call of each of `conversationIds` that has one, from the live view in Redis (the
   * conversation list marks them). Undefined when that Redis cannot answer (breaker open, a
   * timeout): the list is then shown without marks rather than not at all. A call whose view
   * was flushed is marked again once the reconciler has rebuilt it (seconds).
   */
  async liveCallMarkers(
    conversationIds: readonly string[],
  ): Promise<Map<string, LiveCallMarker> | undefined> {
    try {
      const live = await this.#store.liveCalls(conversationIds);
      return new Map(
        [...live].map(([conversationId, session]) => [
          conversationId,
          {
            callId: session.callId,
            startedAt: session.startedAt,
            participantCount: session.participantCount,
          },
        ]),
      );
    } catch (error) {
      if (!isRedisTrouble(error)) throw error;
      this.#logger.warn({ err: String(error) }, 'live calls not marked in a conversation list');
      return undefined;
    }
  }

  /** Who may publish in the conversation's calls: every member, or only owners and admins (a
   *  lecture). Applies to the tokens handed out from now on. Owners and admins only. */
  async setPublishers(actorId: string, conversationId: string, publishers: 'members' | 'admins') {
    const membership = await this.#conversations.membership(conversationId, actorId);
    if (membership.role === 'member') {
      throw new CallPermissionError('only owners and admins change who publishes in calls');
    }
    await calls.setCallSettings(this.#postgres, conversationId, publishers);
    return { publishers };
  }

  /** The calls `userId` was in, newest first. */
  history(userId: string) {
    return calls.history(this.#postgres, userId, policy.calls.historyPageSize);
  }

  /** A member left the conversation or was removed from it: out of its call at once. */
  async memberRemoved(conversationId: string, userIds: readonly string[]): Promise<void> {
    const call = await calls.live(this.#postgres, conversationId);
    if (!call) return;
    for (const userId of userIds) {
      await this.#disconnect(call, userId);
      await this.participantLeft(call.id, userId, new Date());
    }
  }

  // ---- What LiveKit reports (webhooks, reconciler) ----

  /** LiveKit says `userId` is in the call. A non-member (removed since their token was made)
   *  is removed at once; they never get a key of this call after their removal. */
  async participantJoined(callId: string, userId: string, at: Date): Promise<void> {
    const call = await calls.byId(this.#postgres, callId);
    if (!call || call.endedAt) {
      // A join to a call already over (a late webhook, a stale token): nobody should be there.
      if (call) await this.#disconnect(call, userId);
      return;
    }
    const role = await calls.memberRole(this.#postgres, call.conversationId, userId);
    if (role === undefined) {
      this.#logger.info({ callId }, 'a non-member joined a call with an old token; removed');
      await this.#disconnect(call, userId);
      return;
    }
    const joined = await inTransaction(this.#postgres, async (tx) => {
      const row = await calls.join(tx, callId, userId, at);
      if (!row) return undefined;
      const outboxId = await this.#outbox.append(tx, {
        type: 'call.participant-joined',
        conversationId: call.conversationId,
        payload: { callId, userId, at: row.joinedAt.toISOString() },
      });
      return { row, outboxId };
    });
    if (!joined) return;
    await this.#tolerateRedis(() =>
      this.#store.saveParticipant(call.conversationId, {
        userId,
        callId,
        joinedAt: joined.row.joinedAt,
        muted: false,
      }),
    );
    // A rotation between their join answer and their arrival went only to those present then:
    // the newcomer gets the current key on their own devices too.
    let key: CallKey | undefined;
    try {
      key = await this.#store.key(call.conversationId);
    } catch (error) {
      if (!isRedisTrouble(error)) throw error;
    }
    if (key)
      await this.#events?.callKey([userId], {
        conversationId: call.conversationId,
        callId,
        ...key,
      });
    await this.#published(joined.outboxId, {
      type: 'call.participant-joined',
      conversationId: call.conversationId,
      payload: { callId, userId, at: joined.row.joinedAt.toISOString() },
    });
    await this.#inCall(userId, call.conversationId, true);
  }

  /** LiveKit says `userId` left (or dropped): recorded, announced, and the key rotated for
   *  those who remain; the call ends with its last participant. False when there was nothing
   *  to record (no live call, or the leave was already recorded). */
  async participantLeft(callId: string, userId: string, at: Date): Promise<boolean> {
    const call = await calls.byId(this.#postgres, callId);
    if (!call || call.endedAt) return false;
    const left = await inTransaction(this.#postgres, async (tx) => {
      if (!(await calls.leave(tx, callId, userId, at))) return undefined;
      const remaining = await calls.present(tx, callId);
      const outboxId = await this.#outbox.append(tx, {
        type: 'call.participant-left',
        conversationId: call.conversationId,
        payload: { callId, userId, at: at.toISOString() },
      });
      return { outboxId, remaining: remaining.length };
    });
    if (!left) return false;
    const stay = await this.#postgres.query<{ seconds: number }>(
      `SELECT extract(epoch FROM left_at - joined_at)::float8 AS seconds FROM call_participants
       WHERE call_id = $1 AND user_id = $2 ORDER BY id DESC LIMIT 1`,
      [callId, userId],
    );
    this.metrics.participantSeconds.inc(stay.rows[0]?.seconds ?? 0);
    await this.#tolerateRedis(() => this.#store.removeParticipant(call.conversationId, userId));
    await this.#published(left.outboxId, {
      type: 'call.participant-left',
      conversationId: call.conversationId,
      payload: { callId, userId, at: at.toISOString() },
    });
    await this.#inCall(userId, call.conversationId, false);
    if (left.remaining === 0) await this.endCall(call, 'empty');
    else await this.scheduleRotation(call.conversationId);
    return true;
  }

  /** Ends the call: LiveKit closes the room, the key is deleted, everyone is told. */
  async endCall(call: CallRow, reason: EndReason): Promise<void> {
    const ended = await inTransaction(this.#postgres, async (tx) => {
      const present = await calls.present(tx, call.id);
      const endedAt = await calls.end(tx, call.id, reason);
      if (!endedAt) return undefined;
      const outboxId = await this.#outbox.append(tx, {
        type: 'call.ended',
        conversationId: call.conversationId,
        payload: { callId: call.id, endedAt: endedAt.toISOString(), reason },
      });
      return { endedAt, outboxId, present };
    });
    // The key goes first, whatever else fails: an ended call's media must not stay decryptable.
    await this.#tolerateRedis(() => this.#store.clear(call.conversationId));
    if (reason !== 'room_finished') {
      await this.#livekit.rooms.deleteRoom(roomOfCall(call.id)).catch((error: unknown) => {
        // Already gone (everyone left): nothing to close.
        this.#logger.debug({ err: String(error), callId: call.id }, 'deleteRoom');
      });
    }
    if (!ended) return;
    await this.#published(ended.outboxId, {
      type: 'call.ended',
      conversationId: call.conversationId,
      payload: { callId: call.id, endedAt: ended.endedAt.toISOString(), reason },
    });
    for (const { userId } of ended.present) await this.#inCall(userId, call.conversationId, false);
  }

  /** The reconciler's refresh of "in a call" for who is in the call (presence lets it lapse
   *  without one), which also rebuilds it after a flush. All at once: the commands leave in
   *  one write, so a call of 30 costs about one round trip per reconciler round, not 30. */
  async refreshInCall(conversationId: string, userIds: readonly string[]): Promise<void> {
    await Promise.all(userIds.map((userId) => this.#inCall(userId, conversationId, true)));
  }

  /**
   * A rotation after a leave, batched: the first leave of a window claims it (in Redis, so
   * several api instances and the worker share one), and the rotation runs when the window
   * closes, once for all who left in it. A claim whose process dies inside the window stays
   * recorded, and the reconciler completes it (completeAbandonedRotation).
   */
  async scheduleRotation(conversationId: string): Promise<void> {
    let claimed: boolean;
    try {
      claimed = await this.#store.claimRotation(conversationId, randomUUID());
    } catch (error) {
      // Without Redis there is no key to rotate; the reconciler rotates when Redis is back.
      this.#logger.warn({ err: String(error) }, 'key rotation not scheduled');
      return;
    }
    if (!claimed) return;
    const timer = setTimeout(() => {
      this.#rotationTimers.delete(timer);
      void this.rotateKey(conversationId, 'leave')
        .catch((error: unknown) =>
          this.#logger.warn({ err: String(error) }, 'key rotation failed; the reconciler retries'),
        )
        .finally(() => this.#store.releaseRotation(conversationId).catch(() => undefined));
    }, policy.calls.rotationBatchMs);
    this.#rotationTimers.add(timer);
  }

  /** The reconciler's part in batched rotations: a pending rotation whose claimer did not
   *  complete it in time is rotated here. True when it was. */
  async completeAbandonedRotation(conversationId: string): Promise<boolean> {
    if (!(await this.#store.takeOverRotation(conversationId, randomUUID()))) return false;
    try {
      await this.rotateKey(conversationId, 'leave');
    } finally {
      await this.#store.releaseRotation(conversationId).catch(() => undefined);
    }
    return true;
  }

  /** A new key at the next index of the ring, pushed to each participant who is in the call. */
  async rotateKey(conversationId: string, reason: 'leave' | 'lost' | 'age'): Promise<void> {
    const rotated = await inTransaction(this.#postgres, async (tx) => {
      const call = await calls.live(tx, conversationId, true);
      if (!call) return undefined;
      const keyIndex = (call.keyIndex + 1) % policy.calls.keyRingSize;
      await calls.setKeyIndex(tx, call.id, keyIndex);
      // Stored before the commit: a key index PostgreSQL knows always has its key in Redis or
      // none (a lost key is replaced the same way).
      const key = await this.#redisOrUnavailable(() =>
        this.#store.putKey(conversationId, keyIndex, false),
      );
      return { call, key };
    });
    if (!rotated) return;
    this.metrics.rotations.inc({ reason });
    const present = await calls.present(this.#postgres, rotated.call.id);
    await this.#events?.callKey(
      present.map((participant) => participant.userId),
      { conversationId, callId: rotated.call.id, ...rotated.key },
    );
  }

  /** Stops pending rotation timers (process shutdown; the reconciler covers what is lost). */
  stop(): void {
    for (const timer of this.#rotationTimers) clearTimeout(timer);
    this.#rotationTimers.clear();
  }

  /** Re-announces a committed call change (the worker's relay, when the fast path was lost). */
  async afterCommit(event: CallOutboxEvent): Promise<boolean> {
    if (!this.#events) return true;
    const memberIds = await calls.memberIds(this.#postgres, event.conversationId);
    const { conversationId } = event;
    switch (event.type) {
      case 'call.started':
        return this.#events.callChanged(memberIds, 'call:started', {
          conversationId,
          ...event.payload,
        });
      case 'call.participant-joined':
        return this.#events.callChanged(memberIds, 'call:participant-joined', {
          conversationId,
          ...event.payload,
        });
      case 'call.participant-left':
        return this.#events.callChanged(memberIds, 'call:participant-left', {
          conversationId,
          ...event.payload,
        });
      case 'call.ended':
        return this.#events.callChanged(memberIds, 'call:ended', {
          conversationId,
          ...event.payload,
        });
    }
  }

  // ---- internals ----

  async #liveOrNew(conversationId: string, userId: string) {
    const existing = await calls.live(this.#postgres, conversationId);
    if (existing) return { call: existing, startedOutboxId: undefined };
    // The live state before anything is written: a call started while its key cannot be
    // stored is one nobody can join, and calls_unavailable promises that nothing changed.
    // (Redis failing between here and the key leaves a call nobody joins, which the
    // reconciler ends as abandoned.)
    await this.#redisOrUnavailable(() => this.#store.key(conversationId));
    return inTransaction(this.#postgres, async (tx) => {
      const inserted = await calls.insertLive(tx, conversationId, userId);
      if (!inserted) {
        // Another member's start won the race (the unique index on live calls).
        const live = await calls.live(tx, conversationId);
        if (!live) throw new Error('a live call conflicted but cannot be read');
        return { call: live, startedOutboxId: undefined };
      }
      const startedOutboxId = await this.#outbox.append(tx, {
        type: 'call.started',
        conversationId,
        payload: {
          callId: inserted.id,
          startedBy: userId,
          startedAt: inserted.startedAt.toISOString(),
        },
      });
      return { call: inserted, startedOutboxId };
    });
  }

  /** The call's key; a key lost from Redis (a flush, its TTL) is replaced by a rotation. */
  async #currentKey(call: CallRow): Promise<CallKey> {
    const stored = await this.#redisOrUnavailable(() => this.#store.key(call.conversationId));
    if (stored) return stored;
    const present = await calls.present(this.#postgres, call.id);
    if (present.length === 0) {
      // Nobody holds a key yet: the first one, at the index PostgreSQL has.
      return this.#redisOrUnavailable(() =>
        this.#store.putKey(call.conversationId, call.keyIndex, true),
      );
    }
    await this.rotateKey(call.conversationId, 'lost');
    const rotated = await this.#redisOrUnavailable(() => this.#store.key(call.conversationId));
    if (!rotated) throw new CallsUnavailableError('the media key could not be stored');
    return rotated;
  }

  async #view(call: CallRow): Promise<CallView> {
    let participants: CallParticipantState[] | undefined;
    try {
      participants = await this.#store.participants(call.conversationId);
    } catch (error) {
      if (!isRedisTrouble(error)) throw error;
    }
    if (participants === undefined || participants.length === 0) {
      // Redis away or flushed: PostgreSQL knows who is in (mute states come back with the
      // reconciler).
      const present = await calls.present(this.#postgres, call.id);
      participants = present.map((row) => ({
        userId: row.userId,
        callId: call.id,
        joinedAt: row.joinedAt,
        muted: false,
      }));
    }
    return {
      id: call.id,
      conversationId: call.conversationId,
      startedBy: call.startedBy,
      startedAt: call.startedAt,
      participants,
    };
  }

  /** `userId` went into or out of the conversation's call: presence records it, and when that
   *  changed whether they are in any call, the rooms of all their conversations are told. */
  async #inCall(userId: string, conversationId: string, inCall: boolean): Promise<void> {
    const presence = this.#presence;
    if (!presence) return;
    // Best effort (never rejects): what a Redis outage loses, the reconciler's refresh redoes.
    const changed = inCall
      ? await presence.enteredCall(userId, conversationId)
      : await presence.leftCall(userId, conversationId);
    if (!changed || !this.#events) return;
    const now = (await presence.presenceOf([userId]))?.get(userId);
    if (!now) return;
    const conversationIds = await this.#conversations.conversationIdsOf(userId);
    await this.#events.presenceChanged(conversationIds, { userId, ...now });
  }

  async #disconnect(call: CallRow, userId: string): Promise<void> {
    await this.#livekit.rooms.removeParticipant(roomOfCall(call.id), userId).catch(() => {
      // Not in the room (already gone, or never connected): nothing to remove.
    });
  }

  /** Announces a change committed with its outbox row and marks the row published. */
  async #published(outboxId: string, event: Omit<CallOutboxEvent, 'id' | 'occurredAt'>) {
    const published = await this.afterCommit({
      ...event,
      id: outboxId,
      occurredAt: new Date().toISOString(),
    } as CallOutboxEvent);
    await this.#outbox.settle(outboxId, published);
  }

  async #redisOrUnavailable<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (isRedisTrouble(error)) throw new CallsUnavailableError(String(error));
      throw error;
    }
  }

  /** Redis is a view here: a write that cannot reach it is redone by the reconciler. */
  async #tolerateRedis(operation: () => Promise<void>): Promise<void> {
    try {
      await operation();
    } catch (error) {
      if (!isRedisTrouble(error)) throw error;
      this.#logger.warn({ err: String(error) }, 'live call state not written; the reconciler will');
    }
  }
}

function isRedisTrouble(error: unknown): boolean {
  return error instanceof RedisUnavailableError || error instanceof RedisCommandTimeoutError;
}
