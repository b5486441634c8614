import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';
import type { RedisClient } from '../redis/redis-client.js';
import { ExpiringMembership, HeartbeatGate, subjectOf } from './expiring-membership.js';
import { BestEffort, presenceMetrics, requireId } from './realtime-metrics.js';

export interface RoomPresenceOptions {
  /** The state Redis, role `command`; never created or closed here. */
  redis: RedisClient;
  keyPrefix: string;
  registry: Registry;
  logger?: Logger;
  /** A view is alive this long after its join/heartbeat. Default policy.presence.ttlMs. */
  ttlMs?: number;
  /** Default policy.presence.expiredEntryGraceMs. */
  expiredEntryGraceMs?: number;
  /** Default policy.presence.indexShards. Every instance must use the same value. */
  indexShards?: number;
  /** Default policy.presence.sweepBatchPerShard. */
  sweepBatchPerShard?: number;
}

/** One connection viewing one conversation. */
export interface RoomView {
  conversationId: string;
  userId: string;
  /** Unique across instances: `<instanceId>:<socketId>`. */
  connectionId: string;
}

export interface RoomViewer {
  conversationId: string;
  userId: string;
}

/**
 * Who is viewing a conversation right now (connections per room and the active rooms, with
 * expiry): each viewing connection is a member of the conversation's room until a
 * deadline that joinRoom and the heartbeat push to now + ttl. A user with two tabs in a room is
 * one viewer; "started viewing" is reported for the first, "stopped" after the last.
 *
 * Keys: `<prefix>rooms:{rooms-NN}:connections:<conversationId>` (members → deadlines) and
 * `<prefix>rooms:{rooms-NN}:active` (conversations → their latest deadline), see
 * expiring-membership.ts. A join or leave reads the room's members once (a room holds tens of
 * connections; a school-wide room of 1 000 viewers costs a millisecond).
 *
 * Best-effort like Presence: Redis errors resolve to the documented unknown result and are
 * counted in presence_errors_total; only a caller's bug (an empty id) rejects.
 */
export class RoomPresence {
  readonly ttlMs: number;
  readonly #store: ExpiringMembership;
  readonly #sweepBatchPerShard: number;
  readonly #bestEffort: BestEffort;
  readonly #heartbeatGate = new HeartbeatGate();

  constructor(options: RoomPresenceOptions) {
    const settings = policy.presence;
    this.ttlMs = options.ttlMs ?? settings.ttlMs;
    this.#sweepBatchPerShard = options.sweepBatchPerShard ?? settings.sweepBatchPerShard;
    this.#store = new ExpiringMembership({
      redis: options.redis,
      keyPrefix: options.keyPrefix,
      family: 'rooms',
      shards: options.indexShards ?? settings.indexShards,
      graceMs: options.expiredEntryGraceMs ?? settings.expiredEntryGraceMs,
    });
    const metrics = presenceMetrics(options.registry);
    metrics.countActiveRoomsWith(() => this.activeRoomCount());
    this.#bestEffort = new BestEffort(
      metrics,
      options.logger?.child({ component: 'room-presence' }),
      'room presence',
    );
  }

  /** true when the user started viewing (no other live tab of theirs in the room), false when
   *  they already were, null when unknown (Redis error). */
  async joinRoom(
    conversationId: string,
    userId: string,
    connectionId: string,
  ): Promise<boolean | null> {
    const ref = viewRef({ conversationId, userId, connectionId });
    return this.#bestEffort.run(
      'room-join',
      async () => (await this.#store.touch(ref, this.ttlMs)).subjectStarted,
      null,
    );
  }

  /** true when the user stopped viewing (that was their last live tab in the room), false
   *  otherwise, null when unknown (the view then expires by itself). Call it for each viewed
   *  room when a connection closes. */
  async leaveRoom(
    conversationId: string,
    userId: string,
    connectionId: string,
  ): Promise<boolean | null> {
    const ref = viewRef({ conversationId, userId, connectionId });
    await this.#heartbeatGate.settled();
    return this.#bestEffort.run(
      'room-leave',
      async () => (await this.#store.leave(ref, 0)).subjectStopped,
      null,
    );
  }

  /** Refreshes every view of this instance in one pipeline (the presence heartbeat's timer).
   *  Resolves to the viewers that came back (their view had expired and been swept). A
   *  leaveRoom() called meanwhile waits for it (see HeartbeatGate). */
  async heartbeat(views: readonly RoomView[]): Promise<RoomViewer[]> {
    return this.#heartbeatGate.track(this.#heartbeat(views));
  }

  async #heartbeat(views: readonly RoomView[]): Promise<RoomViewer[]> {
    const refs = views.map(viewRef);
    const cameBack: RoomViewer[] = [];
    for (let start = 0; start < refs.length; start += HEARTBEAT_CHUNK) {
      const chunk = refs.slice(start, start + HEARTBEAT_CHUNK);
      const outcomes = await this.#bestEffort.run(
        'room-heartbeat',
        () => this.#store.touchMany(chunk, this.ttlMs),
        null,
      );
      if (!outcomes) continue;
      outcomes.forEach((outcome, i) => {
        const ref = chunk[i] as (typeof chunk)[number];
        if (outcome instanceof Error) this.#bestEffort.failed('room-heartbeat', outcome);
        else if (outcome.subjectStarted) {
          cameBack.push({ conversationId: ref.groupId, userId: ref.subject });
        }
      });
    }
    return cameBack;
  }

  /** The users viewing the conversation now (each once), or null when unknown. */
  async viewers(conversationId: string): Promise<string[] | null> {
    requireId('conversationId', conversationId);
    return this.#bestEffort.run(
      'room-query',
      async () => [...new Set((await this.#store.live(conversationId)).map(subjectOf))],
      null,
    );
  }

  /** Live connections viewing the conversation (tabs count separately), or null when unknown. */
  async connectionCount(conversationId: string): Promise<number | null> {
    requireId('conversationId', conversationId);
    return this.#bestEffort.run(
      'room-query',
      async () => (await this.#store.live(conversationId)).length,
      null,
    );
  }

  /** Conversations with at least one live viewer, across every instance; null when unknown. */
  async activeRoomCount(): Promise<number | null> {
    return this.#bestEffort.run('room-query', () => this.#store.countActive(), null);
  }

  /** Viewers whose last view of a room expired (a crashed instance), each reported by exactly
   *  one of the instances sweeping concurrently; run it with the presence sweep. [] when
   *  Redis cannot answer (they stay due). */
  async sweepExpired(): Promise<RoomViewer[]> {
    const swept = await this.#bestEffort.run(
      'room-sweep',
      () => this.#store.sweep(this.ttlMs, 0, this.#sweepBatchPerShard),
      null,
    );
    if (!swept) return [];
    for (let i = 0; i < swept.errors; i++) this.#bestEffort.failed('room-sweep', 'expire failed');
    return swept.outcomes.flatMap((outcome) =>
      outcome.subjects.map((userId) => ({ conversationId: outcome.groupId, userId })),
    );
  }
}

function viewRef({ conversationId, userId, connectionId }: RoomView) {
  requireId('conversationId', conversationId);
  requireId('userId', userId);
  requireId('connectionId', connectionId);
  return { groupId: conversationId, subject: userId, suffix: connectionId };
}

const HEARTBEAT_CHUNK = 1_000;
