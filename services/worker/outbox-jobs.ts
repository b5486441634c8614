import { Queue, Worker } from 'bullmq';
import type { Registry } from 'prom-client';
import type { CallService } from '../../lib/calls/index.js';
import type { MessagingServices } from '../../lib/conversations/index.js';
import { MessageDelivery } from '../../lib/notifications/index.js';
import type { Logger } from '../../lib/observability/logger.js';
import { queueTelemetry } from '../../lib/observability/trace-context.js';
import type { OutboxConsumer } from '../../lib/outbox/outbox.types.js';
import { OutboxRelay } from '../../lib/outbox/outbox-relay.js';
import { realtimeConsumer } from '../../lib/outbox/realtime-consumer.js';
import { policy } from '../../lib/policy/policy.js';
import type { PostgresPool } from '../../lib/postgres/postgres-pool.js';
import type { Presence } from '../../lib/realtime/index.js';
import type { RedisClient } from '../../lib/redis/redis-client.js';
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
 * The worker's outbox side: the relay with its consumers (`realtime`, `delivery`, and
 * whatever the composition root adds, e.g. `webhooks`), and the delivery worker. The relay's
 * `realtime` consumer re-does the fast path through the same domain services the api uses
 * (the runtime's, announcing through its publisher), so a relayed event has exactly the
 * effects of the fast path it replaces. Only services/worker/main.ts calls this, with parts
 * of its runtime.
 */
export function startOutboxJobs(deps: {
  postgres: PostgresPool;
  logger: Logger;
  registry: Registry;
  /** The domain services the `realtime` consumer replays through. */
  messaging: Pick<MessagingServices, 'messages' | 'receipts' | 'conversations'>;
  /** Who is online: a delivery skips users who will see the message live. */
  presence: Presence;
  /** The fail-fast command client of the state Redis, for the delivery queue's producer. */
  commands: RedisClient;
  /** The worker's BullMQ client (role `queue`): blocking connections are duplicated from it. */
  connection: RedisClient;
  prefix: string;
  /** Delivery jobs run at once (DELIVERY_CONCURRENCY). */
  deliveryConcurrency: number;
  queueMetrics: QueueMetrics;
  /** Re-announces call changes (lib/calls), when LiveKit is configured. */
  calls?: CallService;
  /** Consumers beyond the built-in two, each with its own position. */
  consumers: readonly OutboxConsumer[];
}): OutboxJobs {
  const { postgres, logger, messaging, prefix, queueMetrics } = deps;

  // The producer uses the fail-fast command client: an enqueue during an outage rejects at
  // once and the relay retries, instead of waiting in an offline queue.
  const deliveryQueue = new Queue(DELIVERY_QUEUE, {
    connection: deps.commands,
    prefix,
    telemetry: queueTelemetry(),
  });
  queueMetrics.addQueue(deliveryQueue);
  const delivery = new MessageDelivery({ postgres, presence: deps.presence });
  const deliveryWorker = new Worker(DELIVERY_QUEUE, createDeliveryProcessor(delivery, logger), {
    connection: deps.connection,
    prefix,
    concurrency: deps.deliveryConcurrency,
    lockDuration: policy.delivery.lockDurationMs,
    stalledInterval: policy.delivery.stalledCheckMs,
    telemetry: queueTelemetry(),
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
        messages: messaging.messages,
        receipts: messaging.receipts,
        conversations: messaging.conversations,
        calls: deps.calls,
      }),
      deliveryConsumer(deliveryQueue),
      ...deps.consumers,
    ],
    logger,
    registry: deps.registry,
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
