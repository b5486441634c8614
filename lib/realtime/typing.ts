import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';
import type { RedisClient } from '../redis/redis-client.js';
import { ExpiringMembership, subjectOf } from './expiring-membership.js';
import { BestEffort, presenceMetrics, requireId } from './realtime-metrics.js';

export interface TypingOptions {
  /** The state Redis, role `command`; never created or closed here. */
  redis: RedisClient;
  keyPrefix: string;
  registry: Registry;
  logger?: Logger;
  /** A typing indicator lasts this long without a refresh. Default policy.presence.typingTtlMs. */
  ttlMs?: number;
  /** Default policy.presence.expiredEntryGraceMs. */
  expiredEntryGraceMs?: number;
  /** Default policy.presence.indexShards. Every instance must use the same value. */
  indexShards?: number;
  /** Default policy.presence.sweepBatchPerShard. */
  sweepBatchPerShard?: number;
}

export interface Typist {
  conversationId: string;
  userId: string;
}

/**
 * Typing indicators: a typist is a member of the conversation's typing set until now + ttl
 * (policy.presence.typingTtlMs, ~6 s); every "typing" event from the client refreshes it.
 *
 * The automatic stop is the same expiry and sweep as presence, not a timer in the gateway: a
 * timer would die with a SIGKILLed instance and leave "X is typing…" on every other screen,
 * while the expiry lives in Redis and any instance's sweep (every typingSweepIntervalMs)
 * reports it, once. Explicit stops (the client's "stop", sending the message, disconnecting)
 * call stopTyping; on disconnect the gateway calls it for each room the connection was in.
 *
 * Per user, not per connection: two tabs typing in one conversation are one typist.
 *
 * Best-effort like Presence: Redis errors resolve to the documented unknown result and are
 * counted in presence_errors_total; only a caller's bug (an empty id) rejects.
 */
export class Typing {
  readonly ttlMs: number;
  readonly #store: ExpiringMembership;
  readonly #sweepBatchPerShard: number;
  readonly #bestEffort: BestEffort;

  constructor(options: TypingOptions) {
    const settings = policy.presence;
    this.ttlMs = options.ttlMs ?? settings.typingTtlMs;
    this.#sweepBatchPerShard = options.sweepBatchPerShard ?? settings.sweepBatchPerShard;
    this.#store = new ExpiringMembership({
      redis: options.redis,
      keyPrefix: options.keyPrefix,
      family: 'typing',
      shards: options.indexShards ?? settings.indexShards,
      graceMs: options.expiredEntryGraceMs ?? settings.expiredEntryGraceMs,
    });
    this.#bestEffort = new BestEffort(
      presenceMetrics(options.registry),
      options.logger?.child({ component: 'typing' }),
      'typing',
    );
  }

  /** Starts or refreshes. true when the user was not typing (broadcast "started"), false on a
   *  refresh, null when unknown (Redis error). */
  async startTyping(conversationId: string, userId: string): Promise<boolean | null> {
    const ref = typistRef(conversationId, userId);
    return this.#bestEffort.run(
      'typing-start',
      async () => (await this.#store.touch(ref, this.ttlMs)).subjectStarted,
      null,
    );
  }

  /** true when the user was typing (broadcast "stopped"), false when not (already stopped or
   *  expired and reported by a sweep), null when unknown (it then expires by itself). */
  async stopTyping(conversationId: string, userId: string): Promise<boolean | null> {
    const ref = typistRef(conversationId, userId);
    return this.#bestEffort.run(
      'typing-stop',
      async () => (await this.#store.leave(ref, 0)).subjectStopped,
      null,
    );
  }

  /** Who is typing in the conversation now, or null when unknown. */
  async typists(conversationId: string): Promise<string[] | null> {
    requireId('conversationId', conversationId);
    return this.#bestEffort.run(
      'typing-query',
      async () => (await this.#store.live(conversationId)).map(subjectOf),
      null,
    );
  }

  /** Typists who went quiet (their indicator expired), each reported by exactly one of the
   *  instances sweeping concurrently: broadcast "stopped" for them. [] when Redis cannot
   *  answer (they stay due for the next sweep). */
  async sweepExpired(): Promise<Typist[]> {
    const swept = await this.#bestEffort.run(
      'typing-sweep',
      () => this.#store.sweep(this.ttlMs, 0, this.#sweepBatchPerShard),
      null,
    );
    if (!swept) return [];
    for (let i = 0; i < swept.errors; i++) this.#bestEffort.failed('typing-sweep', 'expire failed');
    return swept.outcomes.flatMap((outcome) =>
      outcome.subjects.map((userId) => ({ conversationId: outcome.groupId, userId })),
    );
  }
}

function typistRef(conversationId: string, userId: string) {
  requireId('conversationId', conversationId);
  requireId('userId', userId);
  return { groupId: conversationId, subject: userId, suffix: '' };
}
