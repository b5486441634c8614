import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';
import type { RedisClient } from '../redis/redis-client.js';
import {
  ExpiringMembership,
  type ExpiryOutcome,
  type MembershipFamily,
} from './expiring-membership.js';
import type { BestEffort, PresenceOperation } from './realtime-metrics.js';

/** What Presence, RoomPresence and Typing are each given, besides their own TTLs. */
export interface MembershipStoreOptions {
  /** The state Redis, role `command` (lib/redis/redis-client.ts): every call bounded by its
   *  command timeout and failing at once while disconnected. Never created or closed here. */
  redis: RedisClient;
  /** REDIS_KEY_PREFIX: every key starts with it (the ACL grants nothing else). */
  keyPrefix: string;
  /** Where presence_online_users, presence_active_rooms and presence_errors_total live. */
  registry: Registry;
  /** Told once when Redis stops answering and once when it answers again. */
  logger?: Logger;
  /** Default policy.presence.expiredEntryGraceMs. */
  expiredEntryGraceMs?: number;
  /** Default policy.presence.indexShards. Every instance must use the same value. */
  indexShards?: number;
  /** Default policy.presence.sweepBatchPerShard. */
  sweepBatchPerShard?: number;
}

/** The store of `family`, with policy.presence's values for what `options` leaves out. */
export function membershipStore(
  options: MembershipStoreOptions,
  family: MembershipFamily,
): ExpiringMembership {
  const settings = policy.presence;
  return new ExpiringMembership({
    redis: options.redis,
    keyPrefix: options.keyPrefix,
    family,
    shards: options.indexShards ?? settings.indexShards,
    graceMs: options.expiredEntryGraceMs ?? settings.expiredEntryGraceMs,
  });
}

/**
 * One best-effort sweep: what expired, each outcome reported by exactly one of the instances
 * sweeping concurrently; [] when Redis cannot answer (the entries stay due for the next
 * sweep). Expiries that failed inside the batch are counted as failures of `operation`.
 */
export async function sweepBestEffort(
  bestEffort: BestEffort,
  operation: PresenceOperation,
  sweep: () => Promise<{ outcomes: ExpiryOutcome[]; errors: number }>,
): Promise<ExpiryOutcome[]> {
  const swept = await bestEffort.run(operation, sweep, null);
  if (!swept) return [];
  for (let i = 0; i < swept.errors; i++) bestEffort.failed(operation, 'expire failed');
  return swept.outcomes;
}

/** Per conversation group (rooms, typing): each user whose last member expired in it. */
export function expiredConversationUsers(
  outcomes: readonly ExpiryOutcome[],
): Array<{ conversationId: string; userId: string }> {
  return outcomes.flatMap((outcome) =>
    outcome.subjects.map((userId) => ({ conversationId: outcome.groupId, userId })),
  );
}
