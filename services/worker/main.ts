import { Worker } from 'bullmq';
import { Counter } from 'prom-client';
import { createOpsServer } from '../../lib/http/ops-endpoints.js';
import { closeHttpServer } from '../../lib/lifecycle/http-server.js';
import { closeRedisClient, createRedisClient } from '../../lib/redis/redis-client.js';
import { startServiceRuntime } from '../../lib/runtime/service-runtime.js';
import { createMaintenanceProcessor, MAINTENANCE_QUEUE } from './maintenance-jobs.js';

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

const queueConnection = createRedisClient(config.redis.state, 'queue', 'quad-worker-queue', logger);

const jobs = new Counter({
  name: 'worker_jobs_total',
  help: 'Jobs finished by this worker, by queue and result',
  labelNames: ['queue', 'result'] as const,
  registers: [metrics],
});

worker = new Worker(MAINTENANCE_QUEUE, createMaintenanceProcessor(logger), {
  connection: queueConnection,
  // Inside the global prefix, which is all the Redis ACL grants the worker.
  prefix: `${config.redis.keyPrefix}bull`,
  concurrency: config.worker.concurrency,
});
worker.on('completed', () => jobs.inc({ queue: MAINTENANCE_QUEUE, result: 'completed' }));
worker.on('failed', () => jobs.inc({ queue: MAINTENANCE_QUEUE, result: 'failed' }));
worker.on('error', (error) => logger.warn({ err: error.message }, 'queue worker error'));

const httpServer = createOpsServer(ops);

shutdown
  .add('finish in-flight jobs', async () => {
    ops.markDraining();
    // Takes no new jobs and waits for running ones to complete. With Redis gone, a job could
    // not record its result anyway: close at once, and BullMQ hands the job to a worker again
    // (stalled-job recovery) once Redis is back.
    await worker?.close(queueConnection.status !== 'ready');
  })
  .add('close health server', () => closeHttpServer(httpServer))
  .add('close redis and postgres', async () => {
    await closeRedisClient(queueConnection);
    await runtime.closeClients();
  });

await runtime.listen(httpServer, { concurrency: config.worker.concurrency });
