import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { MessageDelivery } from '../../lib/notifications/index.js';
import type { OutboxConsumer } from '../../lib/outbox/outbox.types.js';
import { OutboxRelay } from '../../lib/outbox/outbox-relay.js';
import { realtimeConsumer } from '../../lib/outbox/realtime-consumer.js';
import { policy } from '../../lib/policy/policy.js';
import { Presence } from '../../lib/realtime/index.js';
import { RealtimePublisher } from '../../lib/realtime/publisher.js';
import { RedisBreaker } from '../../lib/redis/redis-breaker.js';
import { createDomainServices } from '../../lib/runtime/domain-services.js';
import type { ServiceRuntime } from '../../lib/runtime/service-runtime.js';
import { createDeliveryProcessor, DELIVERY_QUEUE, deliveryConsumer } from './delivery-jobs.js';
import type { QueueMetrics } from './queue-metrics.js';

export interface OutboxJobs {
  relay: OutboxRelay;
  deliveryWorker: Worker;
  /** Stops the relay (the batch being handed over finishes), then the delivery worker (its
   *  running jobs finish unless `force`), then its queue. */
  close(force: boolean): Promise<void>;
}

/**
 * The worker's outbox side: the relay with its consumers (`realtime`, `delivery`, and whatever the
 * composition root adds, e.g. `webhooks`), and the delivery worker (see docs/architecture.md,
 * "transactional outbox"). The relay's `realtime` consumer re-does the fast path through the same
 * domain services the api uses (lib/runtime/domain-services.ts), so a relayed event has exactly the
 * effects of the fast path it replaces. Only services/worker/main.ts calls this.
 */
export function startOutboxJobs(deps: {
  runtime: Pick<ServiceRuntime, 'config' | 'logger' | 'metrics' | 'postgres' | 'redis'>;
  /** The worker's BullMQ client (role `queue`): blocking connections are duplicated from it. */
  connection: Redis;
  prefix: string;
  queueMetrics: QueueMetrics;
  /** Consumers beyond the built-in two, each with its own position. */
  consumers: readonly OutboxConsumer[];
}): OutboxJobs {
  const { runtime, prefix, queueMetrics } = deps;
  const { config, logger, metrics, postgres } = runtime;
  const publisher = new RealtimePublisher({
    redis: runtime.redis.state,
    keyPrefix: config.redis.keyPrefix,
    registry: metrics,
    logger,
  });
  // Its own breaker name: the maintenance tasks hold the worker's `cache` breaker.
  const cacheBreaker = new RedisBreaker({
    name: 'cache-relay',
    redis: runtime.redis.cache,
    registry: metrics,
    logger,
  });
  const domain = createDomainServices(runtime, { events: publisher, cacheBreaker });

  // The producer uses the fail-fast command client: an enqueue during an outage rejects at
  // once and the relay retries, instead of waiting in an offline queue.
  const deliveryQueue = new Queue(DELIVERY_QUEUE, { connection: runtime.redis.state, prefix });
  queueMetrics.addQueue(deliveryQueue);
  const delivery = new MessageDelivery({
    postgres,
    presence: new Presence({
      redis: runtime.redis.state,
      keyPrefix: config.redis.keyPrefix,
      registry: metrics,
      logger,
      ttlMs: config.presence.ttlMs,
    }),
  });
  const deliveryWorker = new Worker(DELIVERY_QUEUE, createDeliveryProcessor(delivery, logger), {
    connection: deps.connection,
    prefix,
    concurrency: config.worker.deliveryConcurrency,
    lockDuration: policy.delivery.lockDurationMs,
    stalledInterval: policy.delivery.stalledCheckMs,
  });
  queueMetrics.watch(deliveryWorker);
  deliveryWorker.on('error', (error) =>
    logger.warn({ err: error.message }, 'delivery worker error'),
  );

  const relay = new OutboxRelay({
    postgres,
    consumers: [
      realtimeConsumer({
        postgres,
        messages: domain.messaging.messages,
        receipts: domain.messaging.receipts,
        conversations: domain.messaging.conversations,
      }),
      deliveryConsumer(deliveryQueue),
      ...deps.consumers,
    ],
    logger,
    registry: metrics,
  });
  relay.start();

  return {
    relay,
    deliveryWorker,
    async close(force) {
      await relay.stop();
      await deliveryWorker.close(force);
      await deliveryQueue.close();
    },
  };
}
