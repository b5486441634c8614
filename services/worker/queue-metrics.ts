import type { Job, Queue, Worker } from 'bullmq';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { policy } from '../../lib/policy/policy.js';

const DEPTH_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

/**
 * The worker's queue metrics, the same for every queue: depth per state
 * (read from Redis at each scrape, bounded by policy.worker.scrapeQueryTimeoutMs: a dead Redis
 * leaves the last values, never hangs /metrics), job durations, jobs by result, retries.
 */
export class QueueMetrics {
  readonly #queues: Queue[] = [];
  readonly #jobs: Counter<'queue' | 'result'>;
  readonly #retries: Counter<'queue'>;
  readonly #duration: Histogram<'queue' | 'result'>;

  /** `jobs`: the worker's `worker_jobs_total{queue,result}` counter (main.ts declares it). */
  constructor(registry: Registry, jobs: Counter<'queue' | 'result'>) {
    this.#jobs = jobs;
    this.#retries = new Counter({
      name: 'worker_job_retries_total',
      help: 'Failed attempts that BullMQ will retry, by queue',
      labelNames: ['queue'],
      registers: [registry],
    });
    this.#duration = new Histogram({
      name: 'worker_job_duration_seconds',
      help: 'Time from a job attempt starting to its end, by queue and result',
      labelNames: ['queue', 'result'],
      // Delivery jobs take milliseconds; webhooks up to their request timeout.
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    const queues = this.#queues;
    new Gauge({
      name: 'worker_queue_depth',
      help: 'Jobs in each queue by state, read from Redis at scrape time',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        await Promise.all(
          queues.map(async (queue) => {
            let timer: NodeJS.Timeout | undefined;
            try {
              const counts = await Promise.race([
                queue.getJobCounts(...DEPTH_STATES),
                new Promise<never>((_, reject) => {
                  timer = setTimeout(
                    () => reject(new Error('queue depth timed out')),
                    policy.worker.scrapeQueryTimeoutMs,
                  );
                }),
              ]);
              for (const state of DEPTH_STATES) {
                this.set({ queue: queue.name, state }, counts[state] ?? 0);
              }
            } catch {
              // Redis cannot say now; the previous values stand until it can.
            } finally {
              clearTimeout(timer);
            }
          }),
        );
      },
    });
  }

  /** Reports the depth of `queue` at each scrape. */
  addQueue(queue: Queue): this {
    this.#queues.push(queue);
    return this;
  }

  /** Counts (worker_jobs_total: completed, failed for good, or retried), times and counts the
   *  retries of every job `worker` runs. */
  watch(worker: Worker): this {
    return this.#observe(worker, true);
  }

  /** Times and counts the retries of every job `worker` runs, for a worker whose jobs are
   *  counted in worker_jobs_total by its own listeners. */
  time(worker: Worker): this {
    return this.#observe(worker, false);
  }

  #observe(worker: Worker, count: boolean): this {
    const queue = worker.name;
    worker.on('completed', (job: Job) => this.#finished(queue, job, 'completed', count));
    worker.on('failed', (job: Job | undefined) => {
      // BullMQ sets finishedOn only when the job fails for good (no attempt left, or an
      // UnrecoverableError); a failed attempt that will be retried has none.
      const retried = job !== undefined && !job.finishedOn;
      if (retried) this.#retries.inc({ queue });
      this.#finished(queue, job, retried ? 'retried' : 'failed', count);
    });
    this.#retries.inc({ queue }, 0);
    if (count) {
      for (const result of ['completed', 'failed', 'retried']) this.#jobs.inc({ queue, result }, 0);
    }
    return this;
  }

  #finished(queue: string, job: Job | undefined, result: string, count: boolean) {
    if (count) this.#jobs.inc({ queue, result });
    if (job?.processedOn) {
      const end = job.finishedOn ?? Date.now();
      this.#duration.observe({ queue, result }, Math.max(0, end - job.processedOn) / 1_000);
    }
  }
}
