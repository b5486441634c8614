import type { Queue } from 'bullmq';

/** The BullMQ queue webhook deliveries run on (inside `<REDIS_KEY_PREFIX>{bull}`, lib/redis/queue-prefix.ts). */
export const WEBHOOK_QUEUE = 'webhooks';

/** A delivery job's data: only the id. Everything else is read from PostgreSQL at each
 *  attempt, so a retry sees a changed URL, a deactivation or a success recorded meanwhile. */
export interface DeliveryJobData {
  deliveryId: string;
}

/** The custom backoff type: the processor computes each wait (lib/webhooks/backoff.ts). */
export const DELIVERY_BACKOFF = 'quad-full-jitter';

/**
 * Puts delivery jobs on the `webhooks` queue, one per delivery row, with jobId = the delivery
 * id: BullMQ ignores an add whose id is already waiting, delayed or running, so a delivery
 * handed over twice (a re-run relay batch, the re-queue sweep) never runs twice at once.
 * Finished jobs are removed at once: the delivery row in PostgreSQL is the record (status,
 * attempts, dead letter), and a removed id can be enqueued again by a retry.
 */
export class DeliveryQueue {
  readonly #queue: Queue;
  readonly #maxAttempts: number;

  constructor(options: { queue: Queue; maxAttempts: number }) {
    this.#queue = options.queue;
    this.#maxAttempts = options.maxAttempts;
  }

  async enqueue(deliveryIds: readonly string[]): Promise<void> {
    if (deliveryIds.length === 0) return;
    await this.#queue.addBulk(
      deliveryIds.map((deliveryId) => ({
        name: 'deliver',
        data: { deliveryId } satisfies DeliveryJobData,
        opts: {
          jobId: deliveryId,
          // BullMQ's own budget is a backstop; the row's attempts decide when it is dead.
          attempts: this.#maxAttempts,
          backoff: { type: DELIVERY_BACKOFF },
          removeOnComplete: true,
          removeOnFail: true,
        },
      })),
    );
  }
}
