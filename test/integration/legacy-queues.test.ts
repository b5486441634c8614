import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { createLogger } from '../../lib/observability/logger.js';
import { runMigrations } from '../../lib/postgres/migrations.js';
import { queuePrefix } from '../../lib/redis/queue-prefix.js';
import { legacyQueuePrefix } from '../../services/worker/legacy-queues.js';
import { MAINTENANCE_QUEUE } from '../../services/worker/maintenance-jobs.js';
import { type ServiceProcess, startService } from '../harness/service-process.js';
import {
  createTestDatabase,
  serviceEnvironment,
  sharedRedisClient,
  uniqueName,
} from '../harness/test-environment.js';
import { waitFor } from '../harness/wait-for.js';

// An upgrade from a version that queued under `<prefix>bull`: the worker moves what waits there
// to the current, hash-tagged queues at start, runs it, and removes the legacy queue.
describe('worker start-up moves jobs from the legacy queue prefix', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let worker: ServiceProcess | undefined;
  let legacy: Queue;
  let current: Queue;
  let connection: Redis | Cluster;
  const keyPrefix = `quad:${uniqueName('lq')}:`;

  before(async () => {
    database = await createTestDatabase();
    await runMigrations(database.url, createLogger('test', 'silent'));
    connection = sharedRedisClient('state', 'worker', { maxRetriesPerRequest: null });
    legacy = new Queue(MAINTENANCE_QUEUE, { connection, prefix: legacyQueuePrefix(keyPrefix) });
    current = new Queue(MAINTENANCE_QUEUE, { connection, prefix: queuePrefix(keyPrefix) });
  });
  after(async () => {
    await worker?.stop('SIGTERM');
    await current.obliterate({ force: true });
    await Promise.all([legacy.close(), current.close()]);
    connection.disconnect();
    await database.drop();
  });

  it('runs a job left waiting and keeps a delayed one delayed, under the same ids', async () => {
    // What the previous version's api and worker left behind when they were stopped.
    await legacy.add('heartbeat', {}, { jobId: 'left-waiting' });
    await legacy.add('heartbeat', {}, { jobId: 'left-delayed', delay: 3_600_000 });

    worker = await startService('worker', {
      ...serviceEnvironment('worker', database.url),
      REDIS_KEY_PREFIX: keyPrefix,
    });

    await waitFor(
      'the waiting job ran on the current queue',
      async () => (await current.getJob('left-waiting'))?.finishedOn !== undefined,
      15_000,
    );
    const ran = await current.getJob('left-waiting');
    assert.ok(ran);
    assert.ok(!Number.isNaN(Date.parse((ran.returnvalue as { at: string }).at)));
    const delayed = await current.getJob('left-delayed');
    assert.equal(await delayed?.getState(), 'delayed');
    // Still due about an hour after it was first queued, not an hour after the move.
    const dueIn = (delayed?.timestamp ?? 0) + (delayed?.delay ?? 0) - Date.now();
    assert.ok(dueIn > 3_500_000 && dueIn <= 3_600_000, `due in ${dueIn} ms`);
    const left = await legacy.getJobCounts('waiting', 'delayed', 'active', 'completed');
    assert.deepEqual(left, { waiting: 0, delayed: 0, active: 0, completed: 0 });
  });
});
