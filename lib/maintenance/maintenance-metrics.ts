import { Counter, type Registry } from 'prom-client';

/** Runs of the worker's upkeep jobs and what they changed (docs/architecture.md). */
export class MaintenanceMetrics {
  readonly #runs: Counter<'job' | 'result'>;
  readonly #rows: Counter<'job'>;

  constructor(registry: Registry) {
    this.#runs = new Counter({
      name: 'maintenance_job_runs_total',
      help: 'Maintenance job runs by job and result (completed, failed)',
      labelNames: ['job', 'result'] as const,
      registers: [registry],
    });
    this.#rows = new Counter({
      name: 'maintenance_rows_affected_total',
      help: 'Rows or entries a maintenance job changed: messages blanked, sessions deleted, leftovers swept, caches warmed, deliveries re-queued',
      labelNames: ['job'] as const,
      registers: [registry],
    });
  }

  ran(job: string, result: 'completed' | 'failed', affected = 0): void {
    this.#runs.inc({ job, result });
    if (affected > 0) this.#rows.inc({ job }, affected);
  }
}
