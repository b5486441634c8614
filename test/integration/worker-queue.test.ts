import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue, QueueEvents } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { queuePrefix } from '../../lib/redis/queue-prefix.js';
import { MAINTENANCE_QUEUE } from '../../services/worker/maintenance-jobs.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedRedisClient,
  uniqueName,
} from '../harness/test-environment.js';

// A job enqueued with the api's Redis user is run by the worker under its own ACL user.
describe('worker runs queued jobs', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let worker: ServiceProcess;
  let queue: Queue;
  let events: QueueEvents;
  const connections: Array<Redis | Cluster> = [];

  const connectAs = (user: 'api' | 'worker') => {
    const client = sharedRedisClient('state', user, { maxRetriesPerRequest: null });
    connections.push(client);
    return client;
  };

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    // A key prefix of this file's own: other files' workers share the test Redis, and their
    // repeatable maintenance jobs must neither land here nor be counted here.
    const keyPrefix = `quad:${uniqueName('wq')}:`;
    worker = await startService('worker', {
      ...serviceEnvironment('worker', database.url),
      REDIS_KEY_PREFIX: keyPrefix,
    });
    queue = new Queue(MAINTENANCE_QUEUE, {
      connection: connectAs('api'),
      prefix: queuePrefix(keyPrefix),
    });
    events = new QueueEvents(MAINTENANCE_QUEUE, {
      connection: connectAs('worker'),
      prefix: queuePrefix(keyPrefix),
      // Read the event stream from its start: with the default '$', an event published before
      // the first blocking XREAD is issued (a fast job) would be missed and the wait would time
      // out although the job completed.
      lastEventId: '0-0',
    });
    await events.waitUntilReady();
  });
  after(async () => {
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
    for (const connection of connections) connection.disconnect();
    await worker.stop('SIGTERM');
    await database.drop();
  });

  it('completes a heartbeat job', async () => {
    const job = await queue.add('heartbeat', {});
    const result = (await job.waitUntilFinished(events, 15_000)) as { at: string };
    assert.ok(!Number.isNaN(Date.parse(result.at)));
  });

  it('fails an unknown job without retrying it', async () => {
    const job = await queue.add('no-such-job', {}, { attempts: 5 });
    await assert.rejects(job.waitUntilFinished(events, 15_000), /unknown maintenance job/);
    const failed = await queue.getJob(job.id ?? '');
    assert.equal(failed?.attemptsMade, 1);
  });

  it('counts finished jobs in worker_jobs_total', async () => {
    const text = await (await fetch(`${worker.baseUrl}/metrics`)).text();
    assert.match(
      text,
      /worker_jobs_total\{queue="maintenance",result="completed",service="worker"\} 1/,
    );
    assert.match(
      text,
      /worker_jobs_total\{queue="maintenance",result="failed",service="worker"\} 1/,
    );
  });
});
