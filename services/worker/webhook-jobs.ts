import { Queue, Worker } from 'bullmq';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/observability/logger.js';
import { queueTelemetry } from '../../lib/observability/trace-context.js';
import { policy } from '../../lib/policy/policy.js';
import type { RedisClient } from '../../lib/redis/redis-client.js';
import {
  createDeliveryProcessor,
  createWebhookTransport,
  type DeliveryJobData,
  DeliveryQueue,
  type DeliverySettings,
  deliveryBackoff,
  resealWebhookSecrets,
  WEBHOOK_QUEUE,
  WebhookMetrics,
  WebhookOutboxConsumer,
  type WebhookSecretBox,
  webhookRepository,
} from '../../lib/webhooks/index.js';

export interface WebhookJobs {
  /** The outbox consumer `webhooks`, for the relay's list of consumers. */
  consumer: WebhookOutboxConsumer;
  /** Enqueues deliveries (the consumer and the re-queue sweep). */
  deliveries: DeliveryQueue;
  /** The `webhooks` BullMQ queue (for queue-depth metrics). */
  queue: Queue;
  worker: Worker<DeliveryJobData>;
  /** Pending deliveries whose job is missing, enqueued again; returns how many. */
  requeueOverdue(): Promise<number>;
  /** Stops taking jobs, waits for running ones (unless `force`), closes the queue. */
  close(force: boolean): Promise<void>;
}

/**
 * The worker's webhook side: the BullMQ worker that sends deliveries (its own concurrency, so
 * slow receivers never hold maintenance or other queues), the queue deliveries are put on, and
 * the outbox consumer that creates them. `connection` is the worker's queue client.
 */
export function startWebhookJobs(deps: {
  connection: RedisClient;
  prefix: string;
  postgres: Pool;
  registry: Registry;
  logger: Logger;
  concurrency: number;
  settings: Omit<DeliverySettings, 'backoffMaxMs' | 'requestTimeoutMs'>;
  secretBox: WebhookSecretBox;
}): WebhookJobs {
  const settings: DeliverySettings = {
    ...deps.settings,
    backoffMaxMs: policy.webhooks.backoffMaxMs,
    requestTimeoutMs: policy.webhooks.requestTimeoutMs,
  };
  const queue = new Queue(WEBHOOK_QUEUE, {
    connection: deps.connection,
    prefix: deps.prefix,
    telemetry: queueTelemetry(),
  });
  // Redis errors are the connection's, logged where it is created; without a listener BullMQ
  // would print each one to the console.
  queue.on('error', (error) => deps.logger.debug({ err: error.message }, 'webhook queue error'));
  const deliveries = new DeliveryQueue({ queue, maxAttempts: settings.maxAttempts });
  const metrics = new WebhookMetrics(deps.registry, deps.postgres);
  const transport = createWebhookTransport(settings.allowedHosts);
  // Secrets from before encryption, or sealed with the previous key, are sealed with the current
  // one now (each attempt also does it for its own webhook, should PostgreSQL be away now).
  resealWebhookSecrets({
    postgres: deps.postgres,
    secretBox: deps.secretBox,
    logger: deps.logger,
  }).catch((error: unknown) =>
    deps.logger.warn({ err: String(error) }, 'webhook secrets not re-sealed at start-up'),
  );
  const worker = new Worker<DeliveryJobData>(
    WEBHOOK_QUEUE,
    createDeliveryProcessor({
      postgres: deps.postgres,
      settings,
      metrics,
      logger: deps.logger,
      secretBox: deps.secretBox,
      transport,
    }),
    {
      connection: deps.connection,
      prefix: deps.prefix,
      concurrency: deps.concurrency,
      telemetry: queueTelemetry(),
      settings: { backoffStrategy: deliveryBackoff(settings) },
    },
  );
  worker.on('error', (error) => deps.logger.warn({ err: error.message }, 'webhook worker error'));
  return {
    consumer: new WebhookOutboxConsumer({ postgres: deps.postgres, queue: deliveries }),
    deliveries,
    queue,
    worker,
    async requeueOverdue() {
      const { webhookRequeueAfterMs } = policy.maintenance;
      const overdue = await webhookRepository.overdue(
        deps.postgres,
        webhookRequeueAfterMs,
        policy.webhooks.maxPageSize,
      );
      await deliveries.enqueue(overdue);
      return overdue.length;
    },
    async close(force) {
      await worker.close(force);
      await queue.close();
      transport.close();
    },
  };
}
