import type { Queue } from 'bullmq';
import { policy } from '../../lib/policy/policy.js';
import type { MaintenanceJobName } from './maintenance-jobs.js';

const { maintenance } = policy;

/** How often each upkeep job runs (lib/policy/policy.ts, `maintenance`, says why). */
export const maintenanceSchedule: ReadonlyArray<{ job: MaintenanceJobName; everyMs: number }> = [
  { job: 'retention-cleanup', everyMs: maintenance.retentionIntervalMs },
  { job: 'expired-sessions', everyMs: maintenance.sessionCleanupIntervalMs },
  { job: 'delivered-webhooks-prune', everyMs: maintenance.sessionCleanupIntervalMs },
  { job: 'outbox-prune', everyMs: maintenance.sessionCleanupIntervalMs },
  { job: 'stale-realtime', everyMs: maintenance.staleRealtimeIntervalMs },
  { job: 'cache-warm-up', everyMs: maintenance.warmUpCheckIntervalMs },
  { job: 'webhook-requeue', everyMs: maintenance.webhookRequeueIntervalMs },
];

/**
 * Registers every upkeep job as a BullMQ job scheduler. Upserts are idempotent, so every worker
 * registers them at start-up and however many run, each run happens once (one job per slot).
 * The first run is one interval after the scheduler is first created (startDate), not at once:
 * a fleet of workers starting together does not begin with every clean-up at the same moment;
 * a restart keeps the existing rhythm.
 */
export async function scheduleMaintenance(queue: Queue, now = Date.now()): Promise<void> {
  for (const { job, everyMs } of maintenanceSchedule) {
    await queue.upsertJobScheduler(
      job,
      { every: everyMs, startDate: now + everyMs },
      {
        name: job,
        // A run that fails is simply run again at the next slot; keep a few for inspection.
        opts: { attempts: 1, removeOnComplete: 50, removeOnFail: 50 },
      },
    );
  }
}
