import type { Registry } from 'prom-client';
import type { UnreadCountsService } from '../../lib/conversations/index.js';
import {
  CacheWarmUp,
  deleteEndedSessions,
  MaintenanceMetrics,
  RetentionCleanup,
  StaleRealtimeSweep,
} from '../../lib/maintenance/index.js';
import type { Logger } from '../../lib/observability/logger.js';
import { pruneOutbox } from '../../lib/outbox/outbox-retention.js';
import { policy } from '../../lib/policy/policy.js';
import type { PostgresPool } from '../../lib/postgres/postgres-pool.js';
import type { Presence, RealtimeEmitter, RoomPresence, Typing } from '../../lib/realtime/index.js';
import type { RedisClient } from '../../lib/redis/redis-client.js';
import type { CacheStores } from '../../lib/runtime/index.js';
import { webhookRepository } from '../../lib/webhooks/index.js';
import type { MaintenanceJobName, MaintenanceTask } from './maintenance-jobs.js';
import type { WebhookJobs } from './webhook-jobs.js';

/**
 * The worker's upkeep tasks, over parts of its runtime (only services/worker/main.ts calls
 * this). The cache stores and unread counts are the runtime's, the same the relay and the api
 * use, over the cache Redis behind its one breaker, so what the tasks write or invalidate is
 * exactly what the api reads.
 */
export function createMaintenanceTasks(deps: {
  postgres: PostgresPool;
  logger: Logger;
  registry: Registry;
  keyPrefix: string;
  /** The cache Redis' command client (the warm-up's sentinel key). */
  cacheRedis: RedisClient;
  unread: UnreadCountsService;
  stores: Pick<CacheStores, 'recentMessages' | 'searchGenerations'>;
  /** The real-time stores the stale sweep expires, and the emitter it announces through. */
  realtime: { presence: Presence; rooms: RoomPresence; typing: Typing };
  emitter: RealtimeEmitter;
  webhooks: Pick<WebhookJobs, 'requeueOverdue'>;
}): { tasks: Record<MaintenanceJobName, MaintenanceTask>; metrics: MaintenanceMetrics } {
  const { postgres, logger, registry, keyPrefix, unread, webhooks } = deps;
  const settings = policy.maintenance;
  const recent = deps.stores.recentMessages;

  const retention = new RetentionCleanup({
    postgres,
    recent,
    unread,
    search: deps.stores.searchGenerations,
    batchSize: settings.retentionBatchSize,
    maxBatches: settings.retentionMaxBatchesPerRun,
    logger,
  });
  const warmUp = new CacheWarmUp({
    postgres,
    cache: deps.cacheRedis,
    keyPrefix,
    unread,
    recent,
    settings: {
      activeWithinHours: settings.warmUpActiveWithinHours,
      maxUsers: settings.warmUpMaxUsers,
      maxConversations: settings.warmUpMaxConversations,
      batchSize: settings.warmUpBatchSize,
    },
    logger,
  });
  const staleRealtime = new StaleRealtimeSweep({
    ...deps.realtime,
    // The same channel as the gateways' adapter, so every instance delivers what is announced.
    emitter: deps.emitter,
    postgres,
  });

  const tasks: Record<MaintenanceJobName, MaintenanceTask> = {
    'retention-cleanup': async () => {
      const result = await retention.run();
      return { ...result, affected: result.messages };
    },
    'expired-sessions': async () => {
      const sessions = await deleteEndedSessions(postgres, {
        graceDays: settings.sessionGraceDays,
        batchSize: settings.sessionBatchSize,
      });
      return { sessions, affected: sessions };
    },
    'delivered-webhooks-prune': async () => {
      let deliveries = 0;
      for (;;) {
        const pruned = await webhookRepository.pruneDelivered(
          postgres,
          settings.deliveredWebhookRetentionDays,
          settings.sessionBatchSize,
        );
        deliveries += pruned;
        if (pruned < settings.sessionBatchSize) break;
      }
      return { deliveries, affected: deliveries };
    },
    // Outbox rows every consumer has passed, older than policy.outbox.retentionMs.
    'outbox-prune': async () => {
      let rows = 0;
      for (;;) {
        const pruned = await pruneOutbox(postgres, {
          olderThanMs: policy.outbox.retentionMs,
          batchSize: policy.outbox.retentionBatchSize,
        });
        rows += pruned;
        if (pruned < policy.outbox.retentionBatchSize) break;
      }
      return { rows, affected: rows };
    },
    'stale-realtime': async () => {
      const result = await staleRealtime.run();
      return {
        ...result,
        affected: result.offline + result.stoppedViewing + result.stoppedTyping,
      };
    },
    'cache-warm-up': async () => {
      const result = await warmUp.run();
      return { ...result, affected: result.users + result.conversations };
    },
    'webhook-requeue': async () => {
      const requeued = await webhooks.requeueOverdue();
      return { requeued, affected: requeued };
    },
  };
  return { tasks, metrics: new MaintenanceMetrics(registry) };
}
