import { Queue, Worker } from 'bullmq';
import { Counter } from 'prom-client';
import { CallReconciler, callsConsumer } from '../../lib/calls/index.js';
import { createOpsServer } from '../../lib/http/ops-endpoints.js';
import { closeHttpServer } from '../../lib/lifecycle/http-server.js';
import { queueTelemetry } from '../../lib/observability/trace-context.js';
import { policy } from '../../lib/policy/policy.js';
import { queuePrefix as queuePrefixOf } from '../../lib/redis/queue-prefix.js';
import { startServiceRuntime } from '../../lib/runtime/index.js';
import { WEBHOOK_QUEUE, webhookSecretBox } from '../../lib/webhooks/index.js';
import { DELIVERY_QUEUE } from './delivery-jobs.js';
import { moveLegacyQueues } from './legacy-queues.js';
import { createMaintenanceProcessor, MAINTENANCE_QUEUE } from './maintenance-jobs.js';
import { scheduleMaintenance } from './maintenance-schedule.js';
import { createMaintenanceTasks } from './maintenance-tasks.js';
import { startOutboxJobs } from './outbox-jobs.js';
import { QueueMetrics } from './queue-metrics.js';
import { startWebhookJobs } from './webhook-jobs.js';

// Composition root of the worker.
let worker: Worker | undefined;
const runtime = startServiceRuntime('worker', () => [
  {
    name: 'queue-worker',
    critical: false,
    async run() {
      if (!worker?.isRunning()) throw new Error('queue worker is not running');
    },
  },
]);
const { config, logger, metrics, ops, shutdown } = runtime;

const queueConnection = runtime.redisConnection('queue');

const jobs = new Counter({
  name: 'worker_jobs_total',
  help: 'Jobs finished by this worker, by queue and result',
  labelNames: ['queue', 'result'] as const,
  registers: [metrics],
});

// Webhook deliveries: their own worker and concurrency (WEBHOOK_CONCURRENCY), so slow receivers
// never delay upkeep. `webhooks.consumer` is the outbox consumer `webhooks` for the relay.
const queuePrefix = queuePrefixOf(config.redis.keyPrefix);
const webhooks = startWebhookJobs({
  connection: queueConnection,
  prefix: queuePrefix,
  postgres: runtime.postgres,
  registry: metrics,
  logger,
  concurrency: config.webhooks.concurrency,
  settings: {
    maxAttempts: config.webhooks.maxAttempts,
    backoffBaseMs: config.webhooks.backoffBaseMs,
    allowedHosts: config.webhooks.allowedHosts,
  },
  secretBox: webhookSecretBox(config.webhooks.secretKeys),
});
webhooks.worker.on('completed', () => jobs.inc({ queue: 'webhooks', result: 'completed' }));
webhooks.worker.on('failed', () => jobs.inc({ queue: 'webhooks', result: 'failed' }));

// The relay replays through the same domain services as the api (announcing through the
// runtime's publisher); upkeep shares their cache stores, behind the cache Redis' one breaker.
const domain = runtime.domain();
const maintenance = createMaintenanceTasks({
  postgres: runtime.postgres,
  logger,
  registry: metrics,
  keyPrefix: config.redis.keyPrefix,
  cacheRedis: runtime.redis.cache,
  unread: domain.messaging.unread,
  stores: runtime.cacheStores(),
  realtime: {
    presence: runtime.presence(),
    rooms: runtime.roomPresence(),
    typing: runtime.typing(),
  },
  emitter: runtime.socketEmitter(),
  webhooks,
});
const maintenanceQueue = new Queue(MAINTENANCE_QUEUE, {
  connection: queueConnection,
  prefix: queuePrefix,
  telemetry: queueTelemetry(),
});
maintenanceQueue.on('error', (error) => logger.debug({ err: error.message }, 'queue error'));
// Repeatable upkeep (retention, sessions, leftovers, cache warm-up, webhook re-queue). A
// failure here (Redis away at start-up) is retried at the next start; the jobs can also be
// added by hand.
scheduleMaintenance(maintenanceQueue).catch((error: unknown) =>
  logger.warn({ err: String(error) }, 'maintenance schedules not registered'),
);

worker = new Worker(
  MAINTENANCE_QUEUE,
  createMaintenanceProcessor(logger, maintenance.tasks, maintenance.metrics),
  {
    connection: queueConnection,
    // Inside the global prefix, which is all the Redis ACL grants the worker.
    prefix: queuePrefix,
    concurrency: config.worker.concurrency,
    telemetry: queueTelemetry(),
  },
);
worker.on('completed', () => jobs.inc({ queue: MAINTENANCE_QUEUE, result: 'completed' }));
worker.on('failed', () => jobs.inc({ queue: MAINTENANCE_QUEUE, result: 'failed' }));
worker.on('error', (error) => logger.warn({ err: error.message }, 'queue worker error'));

// Queue depth, durations and retries of every queue; the outbox relay and delivery jobs.
const queueMetrics = new QueueMetrics(metrics, jobs)
  .addQueue(maintenanceQueue)
  .addQueue(webhooks.queue);
queueMetrics.time(worker).time(webhooks.worker);
// Calls on LiveKit, when configured: members removed from a conversation leave its call (outbox
// consumer `calls`), and the reconciler keeps the recorded state equal to LiveKit's.
const calls = runtime.calls();
const callReconciler = calls
  ? new CallReconciler({
      postgres: runtime.postgres,
      livekit: calls.livekit,
      calls: calls.service,
      store: calls.store,
      logger,
    })
  : undefined;
callReconciler?.start();

const outbox = startOutboxJobs({
  postgres: runtime.postgres,
  logger,
  registry: metrics,
  messaging: domain.messaging,
  presence: runtime.presence(),
  commands: runtime.redis.state,
  connection: queueConnection,
  prefix: queuePrefix,
  deliveryConcurrency: config.worker.deliveryConcurrency,
  queueMetrics,
  calls: calls?.service,
  consumers: [webhooks.consumer, ...(calls ? [callsConsumer(calls.service)] : [])],
});

// Jobs an earlier version queued under the legacy prefix move to the current queues; bounded,
// and never in the way of the start-up (the next start finishes an interrupted move).
let legacyMoveTimer: NodeJS.Timeout | undefined;
Promise.race([
  moveLegacyQueues({
    connection: queueConnection,
    keyPrefix: config.redis.keyPrefix,
    currentPrefix: queuePrefix,
    queueNames: [MAINTENANCE_QUEUE, WEBHOOK_QUEUE, DELIVERY_QUEUE],
    logger,
  }),
  new Promise<never>((_, reject) => {
    legacyMoveTimer = setTimeout(
      () => reject(new Error('timed out')),
      policy.worker.legacyQueueMoveTimeoutMs,
    );
    legacyMoveTimer.unref();
  }),
])
  .catch((error: unknown) =>
    logger.warn({ err: String(error) }, 'legacy queues not moved; the next start retries'),
  )
  .finally(() => clearTimeout(legacyMoveTimer));

const httpServer = createOpsServer(ops);

shutdown
  .add('finish in-flight jobs', async () => {
    ops.markDraining();
    // Takes no new jobs and waits for running ones to complete. With Redis gone, a job could
    // not record its result anyway: close at once, and BullMQ hands the job to a worker again
    // (stalled-job recovery) once Redis is back.
    const force = queueConnection.status !== 'ready';
    // The relay first: no consumer enqueues into a queue being closed.
    await outbox.relay.stop();
    await callReconciler?.stop();
    await Promise.all([
      worker?.close(force),
      webhooks.close(force),
      maintenanceQueue.close(),
      outbox.close(force),
    ]);
  })
  .add('close health server', () => closeHttpServer(httpServer))
  .add('close redis and postgres', () => runtime.close());

await runtime.listen(httpServer, { concurrency: config.worker.concurrency });
