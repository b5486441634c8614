import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from '../../lib/observability/logger.js';

/** The queue that periodic upkeep runs on; later issues add retention, warm-up, .... */
export const MAINTENANCE_QUEUE = 'maintenance';

/**
 * Dispatches maintenance jobs by name. An unknown name can never succeed, so it fails without
 * retries (UnrecoverableError) instead of burning attempts.
 */
export function createMaintenanceProcessor(logger: Logger) {
  return async (job: Job): Promise<unknown> => {
    switch (job.name) {
      case 'heartbeat':
        // Proves the pipeline end to end: enqueued through Redis, picked up, completed.
        return { at: new Date().toISOString() };
      default:
        logger.warn({ job: job.name, id: job.id }, 'unknown maintenance job');
        throw new UnrecoverableError(`unknown maintenance job "${job.name}"`);
    }
  };
}
