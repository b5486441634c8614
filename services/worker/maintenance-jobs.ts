import { type Job, UnrecoverableError } from 'bullmq';
import type { MaintenanceMetrics } from '../../lib/maintenance/index.js';
import type { Logger } from '../../lib/observability/logger.js';

/** The queue that periodic upkeep runs on (services/worker/maintenance-schedule.ts). */
export const MAINTENANCE_QUEUE = 'maintenance';

/** A maintenance task: its result is the job's return value; `affected` feeds the metrics. */
export type MaintenanceTask = () => Promise<{ affected: number } & Record<string, unknown>>;

/** The repeatable upkeep jobs, by job name (docs/architecture.md, "Maintenance"). */
export type MaintenanceJobName =
  | 'retention-cleanup'
  | 'expired-sessions'
  | 'delivered-webhooks-prune'
  | 'outbox-prune'
  | 'stale-realtime'
  | 'cache-warm-up'
  | 'webhook-requeue';

/**
 * Dispatches maintenance jobs by name. An unknown name can never succeed, so it fails without
 * retries (UnrecoverableError) instead of burning attempts. Any job can also be run by hand by
 * adding a job of that name to the queue: the schedules only add them periodically.
 */
export function createMaintenanceProcessor(
  logger: Logger,
  tasks: Partial<Record<MaintenanceJobName, MaintenanceTask>> = {},
  metrics?: MaintenanceMetrics,
) {
  return async (job: Job): Promise<unknown> => {
    if (job.name === 'heartbeat') {
      // Proves the pipeline end to end: enqueued through Redis, picked up, completed.
      return { at: new Date().toISOString() };
    }
    const task = Object.hasOwn(tasks, job.name) ? tasks[job.name as MaintenanceJobName] : undefined;
    if (task === undefined) {
      logger.warn({ job: job.name, id: job.id }, 'unknown maintenance job');
      throw new UnrecoverableError(`unknown maintenance job "${job.name}"`);
    }
    try {
      const result = await task();
      metrics?.ran(job.name, 'completed', result.affected);
      return result;
    } catch (error) {
      metrics?.ran(job.name, 'failed');
      logger.warn({ job: job.name, err: String(error) }, 'maintenance job failed');
      throw error;
    }
  };
}
