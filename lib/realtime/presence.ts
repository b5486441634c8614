import { policy } from '../policy/policy.js';
import { defineLuaScripts, loadLuaScripts, runLuaScript } from '../redis/lua-scripts.js';
import { runBatch } from '../redis/slot-batches.js';
import { type ExpiringMembership, HeartbeatGate } from './expiring-membership.js';
import {
  type MembershipStoreOptions,
  membershipStore,
  sweepBestEffort,
} from './membership-store.js';
import { BestEffort, presenceMetrics, requireId } from './realtime-metrics.js';

export interface PresenceOptions extends MembershipStoreOptions {
  /** A connection is alive this long after its last connect/heartbeat. Default
   *  policy.presence.ttlMs. Tests pass a few hundred ms. */
  ttlMs?: number;
  /** Default policy.presence.lastSeenRetentionMs. */
  lastSeenRetentionMs?: number;
  /** Default policy.presence.maxBatchUsers. */
  maxBatchUsers?: number;
  /** Default policy.presence.inCallTtlMs. */
  inCallTtlMs?: number;
}

const callScripts = loadLuaScripts(import.meta.url, {
  enter: 'presence-call-enter-1.lua',
  leave: 'presence-call-leave-1.lua',
  // Variable number of keys: the call passes it first.
  inCall: 'presence-in-call.lua',
});

/** One live connection of this instance, as the heartbeat refreshes it. */
export interface PresenceConnection {
  userId: string;
  /** Unique across instances: `<instanceId>:<socketId>`. */
  connectionId: string;
}

export interface UserPresence {
  online: boolean;
  /** ISO time the user was last online: null while online, or when Redis knows nothing (never
   *  seen, or longer ago than policy.presence.lastSeenRetentionMs). */
  lastSeenAt: string | null;
  /** In a call of any conversation (LiveKit reports them connected), whether or not a socket
   *  is open. Which conversation is not said: whoever asks may share none with the call;
   *  members see it in their conversation list. */
  inCall: boolean;
}

export interface OfflineTransition {
  /** true exactly once per offline transition, across every instance. */
  wentOffline: boolean;
  /** When (Redis' clock), if wentOffline; otherwise null. */
  lastSeenAt: string | null;
}

export interface ExpiredUser {
  userId: string;
  /** The last refresh of their last connection. */
  lastSeenAt: string;
}

/**
 * Who is online, across every gateway instance, tabs and devices included (so not one socket id per
 * user, which a second tab would overwrite). A user is online while any of their connections has a
 * deadline after now; connect and the heartbeat push a connection's deadline to now + ttl,
 * disconnect removes it. A SIGKILLed instance's connections are never removed: they pass their
 * deadline, the user reads as offline from that moment, and the next sweepExpired() on any instance
 * reports them once so the gateway can broadcast it.
 *
 * Transitions alternate strictly per user: "online" (connect/heartbeat returned true) and then
 * exactly one "offline" (from disconnect or from one sweep, never both, never two instances).
 *
 * Best-effort: no method rejects because of Redis. When Redis cannot answer, each resolves to
 * its documented unknown result and presence_errors_total{operation} counts it. Methods reject
 * only for a caller's bug (RangeError: an empty id, more than maxBatchUsers ids).
 */
export class Presence {
  readonly ttlMs: number;
  readonly maxBatchUsers: number;
  readonly #store: ExpiringMembership;
  readonly #lastSeenRetentionMs: number;
  readonly #sweepBatchPerShard: number;
  readonly #bestEffort: BestEffort;
  readonly #heartbeatGate = new HeartbeatGate();
  readonly #inCallTtlMs: number;

  constructor(options: PresenceOptions) {
    const settings = policy.presence;
    this.ttlMs = options.ttlMs ?? settings.ttlMs;
    this.#inCallTtlMs = options.inCallTtlMs ?? settings.inCallTtlMs;
    this.maxBatchUsers = options.maxBatchUsers ?? settings.maxBatchUsers;
    this.#lastSeenRetentionMs = options.lastSeenRetentionMs ?? settings.lastSeenRetentionMs;
    this.#sweepBatchPerShard = options.sweepBatchPerShard ?? settings.sweepBatchPerShard;
    this.#store = membershipStore(options, 'presence');
    defineLuaScripts(options.redis, callScripts);
    const metrics = presenceMetrics(options.registry);
    metrics.countOnlineUsersWith(() => this.onlineCount());
    this.#bestEffort = new BestEffort(
      metrics,
      options.logger?.child({ component: 'presence' }),
      'presence',
    );
  }

  /**
   * Registers a new connection. Resolves true when the user went from offline to online (the
   * gateway broadcasts it), false when they already were, null when unknown (Redis error).
   */
  async connect(userId: string, connectionId: string): Promise<boolean | null> {
    requireId('userId', userId);
    requireId('connectionId', connectionId);
    return this.#bestEffort.run(
      'connect',
      async () =>
        (
          await this.#store.touch(
            { groupId: userId, subject: '', suffix: connectionId },
            this.ttlMs,
          )
        ).groupStarted,
      null,
    );
  }

  /**
   * Refreshes every live connection of this instance: one pipeline (one round trip), meant for
   * one timer per instance every policy.presence.heartbeatIntervalMs. A connection that had
   * expired (Redis unreachable for longer than the TTL, a stalled event loop) is added back.
   * Resolves to the users who came back online because of it (broadcast them); failures are
   * counted and leave those connections to the next heartbeat. Never rejects for Redis.
   * A disconnect() called meanwhile waits for it (see HeartbeatGate).
   */
  async heartbeat(connections: readonly PresenceConnection[]): Promise<string[]> {
    return this.#heartbeatGate.track(this.#heartbeat(connections));
  }

  async #heartbeat(connections: readonly PresenceConnection[]): Promise<string[]> {
    for (const { userId, connectionId } of connections) {
      requireId('userId', userId);
      requireId('connectionId', connectionId);
    }
    const cameOnline = new Set<string>();
    // Bounded pipelines: a very busy instance must not build one huge request.
    for (let start = 0; start < connections.length; start += HEARTBEAT_CHUNK) {
      const chunk = connections.slice(start, start + HEARTBEAT_CHUNK);
      const outcomes = await this.#bestEffort.run(
        'heartbeat',
        () =>
          this.#store.touchMany(
            chunk.map(({ userId, connectionId }) => ({
              groupId: userId,
              subject: '',
              suffix: connectionId,
            })),
            this.ttlMs,
          ),
        null,
      );
      if (!outcomes) continue;
      outcomes.forEach((outcome, i) => {
        if (outcome instanceof Error) this.#bestEffort.failed('heartbeat', outcome);
        else if (outcome.groupStarted) cameOnline.add((chunk[i] as PresenceConnection).userId);
      });
    }
    return [...cameOnline];
  }

  /**
   * Removes a connection. wentOffline is true when it was the user's last live connection
   * (broadcast "offline" with lastSeenAt), false otherwise (another tab or device is alive, or
   * this connection was already gone). Resolves null when unknown (Redis error): the connection
   * then expires by itself and a sweep reports the user.
   */
  async disconnect(userId: string, connectionId: string): Promise<OfflineTransition | null> {
    requireId('userId', userId);
    requireId('connectionId', connectionId);
    await this.#heartbeatGate.settled();
    return this.#bestEffort.run(
      'disconnect',
      async () => {
        const outcome = await this.#store.leave(
          { groupId: userId, subject: '', suffix: connectionId },
          this.#lastSeenRetentionMs,
        );
        return outcome.groupStopped
          ? { wentOffline: true, lastSeenAt: new Date(outcome.atMs).toISOString() }
          : { wentOffline: false, lastSeenAt: null };
      },
      null,
    );
  }

  /**
   * The users whose last connection expired since they were last reported (a crashed instance,
   * a lost disconnect), each reported by exactly one of the instances sweeping concurrently.
   * Run it on every instance every policy.presence.sweepIntervalMs. Resolves [] (or what did
   * succeed) when Redis cannot answer; the users not reported stay due for the next sweep.
   */
  async sweepExpired(): Promise<ExpiredUser[]> {
    const outcomes = await sweepBestEffort(this.#bestEffort, 'sweep', () =>
      this.#store.sweep(this.ttlMs, this.#lastSeenRetentionMs, this.#sweepBatchPerShard),
    );
    return outcomes
      .filter((outcome) => outcome.groupStopped)
      .map((outcome) => ({
        userId: outcome.groupId,
        lastSeenAt: new Date(outcome.lastActiveMs).toISOString(),
      }));
  }

  /**
   * The presence of up to maxBatchUsers users (duplicates allowed, answered once) in one round
   * trip: one script per index shard, all in one pipeline. Online means a connection with a
   * deadline after now, on Redis' clock, whether or not a sweep has run yet. Resolves null when
   * unknown (Redis error); rejects with RangeError for more than maxBatchUsers ids (duplicates
   * count) or an empty id.
   */
  async presenceOf(userIds: readonly string[]): Promise<Map<string, UserPresence> | null> {
    if (userIds.length > this.maxBatchUsers) {
      throw new RangeError(
        `presence of at most ${this.maxBatchUsers} users per call, got ${userIds.length}`,
      );
    }
    for (const userId of userIds) requireId('userId', userId);
    return this.#bestEffort.run(
      'query',
      async () => {
        // Two pipelines sent together: one round trip's time.
        const [statuses, inCall] = await Promise.all([
          this.#store.status(userIds, this.ttlMs),
          this.#inCall(userIds),
        ]);
        const answer = new Map<string, UserPresence>();
        for (const [userId, status] of statuses) {
          answer.set(userId, {
            online: status.active,
            lastSeenAt:
              status.lastActiveMs === null ? null : new Date(status.lastActiveMs).toISOString(),
            inCall: inCall.has(userId),
          });
        }
        return answer;
      },
      null,
    );
  }

  /**
   * The user is in the call of `conversationId` (lib/calls, when LiveKit reports them), until
   * inCallTtlMs from now unless refreshed (the calls reconciler does, every few seconds, and
   * rebuilds the entry after a flush), so an entry whose leave was lost lapses by itself.
   * Resolves true when they were in no call before (announce it), false when they were, null
   * when unknown (Redis error).
   */
  async enteredCall(userId: string, conversationId: string): Promise<boolean | null> {
    requireId('userId', userId);
    requireId('conversationId', conversationId);
    return this.#bestEffort.run(
      'call-enter',
      async () =>
        (await runLuaScript(
          this.#store.redis,
          callScripts.enter,
          this.#inCallKey(userId),
          conversationId,
          this.#inCallTtlMs,
        )) === 1,
      null,
    );
  }

  /** The user left the call of `conversationId`. Resolves true when that took them out of
   *  their last call (announce it), false otherwise, null when unknown (Redis error). */
  async leftCall(userId: string, conversationId: string): Promise<boolean | null> {
    requireId('userId', userId);
    requireId('conversationId', conversationId);
    return this.#bestEffort.run(
      'call-leave',
      async () =>
        (await runLuaScript(
          this.#store.redis,
          callScripts.leave,
          this.#inCallKey(userId),
          conversationId,
        )) === 1,
      null,
    );
  }

  #inCallKey(userId: string): string {
    return this.#store.sideKey(userId, 'in-call');
  }

  /** Which of `userIds` are in a call: one script per presence shard, in one pipeline. */
  async #inCall(userIds: readonly string[]): Promise<Set<string>> {
    const byShard = new Map<number, string[]>();
    for (const userId of new Set(userIds)) {
      const shard = this.#store.shardOf(userId);
      const ids = byShard.get(shard);
      if (ids) ids.push(userId);
      else byShard.set(shard, [userId]);
    }
    const shards = [...byShard.values()];
    const results = await runBatch(
      this.#store.redis,
      shards.map((ids) => {
        const keys = ids.map((userId) => this.#inCallKey(userId));
        return {
          key: keys[0] as string,
          queue: (pipeline) => runLuaScript(pipeline, callScripts.inCall, keys.length, ...keys),
        };
      }),
    );
    const inCall = new Set<string>();
    results.forEach((result, i) => {
      if ('error' in result) throw result.error;
      const ids = shards[i] as string[];
      const flags = result.reply;
      if (!Array.isArray(flags) || flags.length !== ids.length) {
        throw new Error(`presence-in-call returned ${JSON.stringify(flags)}`);
      }
      ids.forEach((userId, j) => {
        if (flags[j] === 1) inCall.add(userId);
      });
    });
    return inCall;
  }

  /** Users online now across every instance, or null when unknown. */
  async onlineCount(): Promise<number | null> {
    return this.#bestEffort.run('count', () => this.#store.countActive(), null);
  }
}

/** Connections per heartbeat pipeline: ~100 KB of request, well under a millisecond of Redis. */
const HEARTBEAT_CHUNK = 1_000;
