import { type ConnectionOptions, type Job, Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import type { Logger } from '../../lib/observability/logger.js';

/**
 * Where BullMQ kept its queues before they moved under a hash-tagged prefix (which Redis Cluster
 * needs, lib/redis/queue-prefix.ts): `<REDIS_KEY_PREFIX>bull`.
 */
export const legacyQueuePrefix = (keyPrefix: string): string => `${keyPrefix}bull`;

/** The job states a job can wait in; an active job of a stopped worker is waiting again too. */
const pendingStates = ['waiting', 'delayed', 'prioritized', 'active'] as const;

/**
 * An upgrade from a version that queued under the legacy prefix would strand the jobs queued
 * there (in-app notifications of messages sent just before the upgrade; webhook deliveries are
 * re-queued from PostgreSQL anyway): each pending job moves to the same queue under the current
 * prefix, with its id (so a job moved twice runs once), data, options and the rest of its
 * delay, then the legacy queue is removed. Repeatable jobs are not moved: the worker registers
 * its schedules itself. A Redis Cluster never held the legacy layout (its scripts would not
 * run there), so it is not searched. Resolves the number of jobs moved.
 */
export async function moveLegacyQueues(options: {
  connection: ConnectionOptions;
  keyPrefix: string;
  currentPrefix: string;
  queueNames: readonly string[];
  logger: Logger;
}): Promise<number> {
  const { connection, keyPrefix, currentPrefix, queueNames, logger } = options;
  if (connection instanceof Cluster) return 0;
  const legacyPrefix = legacyQueuePrefix(keyPrefix);
  let moved = 0;
  for (const name of queueNames) {
    const legacy = new Queue(name, { connection, prefix: legacyPrefix });
    try {
      const counts = await legacy.getJobCounts(...pendingStates, 'completed', 'failed');
      if (Object.values(counts).every((count) => count === 0)) continue;
      const jobs = (await legacy.getJobs([...pendingStates], 0, -1)).filter(
        (job): job is Job => job !== undefined && job.id !== undefined && !job.repeatJobKey,
      );
      if (jobs.length > 0) {
        const current = new Queue(name, { connection, prefix: currentPrefix });
        try {
          const now = Date.now();
          await current.addBulk(
            jobs.map((job) => {
              const { delay, ...opts } = job.opts;
              const remaining = Math.max(0, job.timestamp + (delay ?? 0) - now);
              return {
                name: job.name,
                data: job.data,
                opts: { ...opts, jobId: job.id, ...(remaining > 0 ? { delay: remaining } : {}) },
              };
            }),
          );
        } finally {
          await current.close();
        }
      }
      await legacy.obliterate({ force: true });
      moved += jobs.length;
      logger.info(
        { queue: name, moved: jobs.length, from: legacyPrefix, to: currentPrefix },
        'moved the jobs of a queue from its legacy prefix',
      );
    } finally {
      await legacy.close();
    }
  }
  return moved;
}
