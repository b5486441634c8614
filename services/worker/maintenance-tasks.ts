import { Emitter } from '@socket.io/redis-emitter';
import { CacheAside } from '../../lib/cache/index.js';
import { RecentMessagesStore, UnreadCountsService } from '../../lib/conversations/index.js';
import {
  CacheWarmUp,
  deleteEndedSessions,
  MaintenanceMetrics,
  RetentionCleanup,
  StaleRealtimeSweep,
} from '../../lib/maintenance/index.js';
import { pruneOutbox } from '../../lib/outbox/outbox-retention.js';
import { policy } from '../../lib/policy/policy.js';
import type { ServerEvents } from '../../lib/realtime/events.js';
import { Presence, RoomPresence, Typing } from '../../lib/realtime/index.js';
import { socketChannelKey } from '../../lib/realtime/publisher.js';
import { tolerantPublisher } from '../../lib/realtime/tolerant-publisher.js';
import { RedisBreaker } from '../../lib/redis/redis-breaker.js';
import type { ServiceRuntime } from '../../lib/runtime/service-runtime.js';
import { SearchGenerations } from '../../lib/search/index.js';
import { webhookRepository } from '../../lib/webhooks/index.js';
import type { MaintenanceJobName, MaintenanceTask } from './maintenance-jobs.js';
import type { WebhookJobs } from './webhook-jobs.js';

/**
 * The worker's upkeep tasks, built from its runtime's clients (the composition root's own
 * helper: only services/worker/main.ts calls it). The cache modules are the same the api uses,
 * over the cache Redis behind its breaker, so what the tasks write or invalidate is exactly
 * what the api reads.
 */
export function createMaintenanceTasks(
  runtime: Pick<ServiceRuntime, 'config' | 'logger' | 'metrics' | 'postgres' | 'redis'>,
  webhooks: Pick<WebhookJobs, 'requeueOverdue'>,
): { tasks: Record<MaintenanceJobName, MaintenanceTask>; metrics: MaintenanceMetrics } {
  const { config, logger, metrics: registry, postgres } = runtime;
  const { keyPrefix } = config.redis;
  const settings = policy.maintenance;
  const breaker = new RedisBreaker({
    name: 'cache',
    redis: runtime.redis.cache,
    registry,
    logger,
  });
  const cacheOptions = { redis: runtime.redis.cache, keyPrefix, registry, logger, breaker };
  const cache = new CacheAside(cacheOptions);
  const unread = new UnreadCountsService({ postgres, counters: cache.namespace('unread-counts') });
  const recent = new RecentMessagesStore(cacheOptions);

  const retention = new RetentionCleanup({
    postgres,
    recent,
    unread,
    search: new SearchGenerations(cacheOptions),
    batchSize: settings.retentionBatchSize,
    maxBatches: settings.retentionMaxBatchesPerRun,
    logger,
  });
  const warmUp = new CacheWarmUp({
    postgres,
    cache: runtime.redis.cache,
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
  const storeOptions = {
    redis: runtime.redis.state,
    keyPrefix,
    registry,
    logger,
    ttlMs: config.presence.ttlMs,
  };
  const staleRealtime = new StaleRealtimeSweep({
    presence: new Presence(storeOptions),
    rooms: new RoomPresence(storeOptions),
    typing: new Typing({ redis: runtime.redis.state, keyPrefix, registry, logger }),
    // The same channel as the gateways' adapter, so every instance delivers what is announced.
    emitter: new Emitter<ServerEvents>(
      tolerantPublisher(runtime.redis.state, (error) =>
        logger.warn({ err: String(error) }, 'stale real-time announcement not published'),
      ),
      { key: socketChannelKey(keyPrefix) },
    ),
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
