import { type Job, type Queue, UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import type { MessageDelivery } from '../../lib/notifications/index.js';
import type { Logger } from '../../lib/observability/logger.js';
import { jobTraceOptions } from '../../lib/observability/trace-context.js';
import type { OutboxConsumer } from '../../lib/outbox/outbox.types.js';
import { policy } from '../../lib/policy/policy.js';

/** The queue of message delivery (in-app notifications for offline members). */
export const DELIVERY_QUEUE = 'delivery';

/** BullMQ refuses integer custom ids; the prefix also says where the id comes from. */
export const deliveryJobId = (outboxId: string) => `outbox-${outboxId}`;

const deliveryJobData = z.object({
  outboxId: z.string().regex(/^\d{1,19}$/),
  message: z.object({
    id: z.uuid(),
    conversationId: z.uuid(),
    seq: z.number().int().positive(),
    senderId: z.uuid(),
  }),
});
export type DeliveryJobData = z.infer<typeof deliveryJobData>;

/**
 * Outbox consumer `delivery`: one `delivery` job per message.created row, with jobId = the
 * outbox id, so a row handed over twice finds its job (waiting, running or completed within
 * policy.delivery.keepCompletedMs) and makes no second one. Redis down: the enqueue rejects
 * (the command client fails fast; bounded in any case) and the relay retries with backoff.
 */
export function deliveryConsumer(queue: Queue): OutboxConsumer {
  return {
    name: 'delivery',
    async handle(events) {
      const jobs = events.flatMap((event) => {
        if (event.type !== 'message.created') return [];
        // The relay validated the row, so the message is whole; the job carries what it needs.
        const { id, conversationId, seq, senderId } = event.payload.message;
        const data: DeliveryJobData = {
          outboxId: event.id,
          message: { id, conversationId, seq, senderId },
        };
        return [
          {
            name: 'message.created',
            data,
            opts: {
              jobId: deliveryJobId(event.id),
              attempts: policy.delivery.attempts,
              backoff: { type: 'exponential', delay: policy.delivery.retryDelayMs },
              removeOnComplete: { age: policy.delivery.keepCompletedMs / 1_000 },
              removeOnFail: { age: policy.delivery.keepFailedMs / 1_000 },
              // The job's spans continue the send's trace (the relay's span for this row).
              ...jobTraceOptions(event.traceContext),
            },
          },
        ];
      });
      if (jobs.length === 0) return;
      // Bounded: until its first connection is ready a BullMQ queue waits for Redis instead of
      // failing; the relay must get a rejection to retry, not a hang.
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          queue.addBulk(jobs),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error('enqueueing delivery jobs timed out')),
              policy.redis.connectTimeoutMs,
            );
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Runs one delivery job: the message's offline members get it added to their notification
 * (lib/notifications, MessageDelivery: idempotent, so a job that runs again after the worker
 * was killed mid-way does what is left and nothing twice). Data that is not a delivery job
 * fails without retries.
 */
export function createDeliveryProcessor(delivery: MessageDelivery, logger: Logger) {
  return async (job: Job): Promise<{ notified: number; online: number }> => {
    const parsed = deliveryJobData.safeParse(job.data);
    if (!parsed.success) {
      logger.warn({ job: job.name, id: job.id }, 'malformed delivery job');
      throw new UnrecoverableError('malformed delivery job data');
    }
    const { notified, online } = await delivery.deliver(parsed.data.message);
    return { notified: notified.length, online };
  };
}
