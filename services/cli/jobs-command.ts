import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { queueTelemetry } from '../../lib/observability/trace-context.js';
import {
  type OutboxDeadLetter,
  OutboxDeadLetters,
  OutboxRowNotDeadError,
  OutboxRowStillMalformedError,
} from '../../lib/outbox/outbox-dead-letters.js';
import { OutboxWriter } from '../../lib/outbox/outbox-writer.js';
import { queuePrefix } from '../../lib/redis/queue-prefix.js';
import type { Runtime } from '../../lib/runtime/index.js';
import {
  DeliveryNotDeadError,
  DeliveryNotFoundError,
  DeliveryQueue,
  WEBHOOK_QUEUE,
  type WebhookDelivery,
  WebhookService,
  webhookSecretBox,
} from '../../lib/webhooks/index.js';

export const jobsUsage = `  jobs dead [--queue NAME] [--limit N]
             list dead-lettered jobs, most recent first: webhook deliveries (the default
             queue, webhooks), outbox rows that failed their schema (--queue outbox), or the
             failed jobs of another BullMQ queue (maintenance, delivery)
  jobs retry ID [--queue NAME]
             run a dead-lettered job again (a webhook delivery gets a fresh budget of attempts;
             an outbox row, once repaired by hand, is written again as a new row)
  jobs drop ID [--queue NAME]
             forget a dead-lettered job for good
             The jobs commands read the worker's environment (REDIS_*, DATABASE_URL, ...).`;

/** Not a BullMQ queue: the outbox's dead letters live in PostgreSQL (lib/outbox). */
const OUTBOX_DEAD_LETTERS = 'outbox';

const OUTBOX_ID = /^\d{1,19}$/;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What the command printed or why it failed, with the exit status to use. */
type Outcome = { ok: true; output: string } | { ok: false; message: string; status: number };

const deliveryLine = (d: WebhookDelivery) =>
  [
    d.id,
    `webhook=${d.webhookId}`,
    `event=${d.eventId}`,
    d.eventType,
    `attempts=${d.attempts}`,
    `last=${d.lastStatusCode ?? '-'}`,
    d.updatedAt,
    d.lastError ?? '',
  ].join('\t');

const outboxLine = (row: OutboxDeadLetter) =>
  [row.id, row.type, `conversation=${row.conversationId}`, row.deadLetteredAt, row.reason]
    .join('\t')
    .replaceAll('\n', ' ');

/**
 * `quad jobs dead|retry|drop`: the dead letters of every queue in one place. Webhook
 * deliveries are dead-lettered in PostgreSQL (webhook_deliveries.status = 'dead', what the admin
 * API shows), and so are outbox rows (outbox.dead_lettered_at); other queues keep their failed
 * jobs in BullMQ.
 */
export async function jobsCommand(
  args: string[],
  usage: string,
  /** The worker's configuration and clients (services/cli/main.ts builds them), opened only
   *  once the arguments are valid. */
  openRuntime: () => Promise<Runtime>,
): Promise<Outcome> {
  let parsed: ReturnType<typeof parse>;
  const parse = (input: string[]) =>
    parseArgs({
      args: input,
      allowPositionals: true,
      options: { queue: { type: 'string', default: WEBHOOK_QUEUE }, limit: { type: 'string' } },
      strict: true,
    });
  try {
    parsed = parse(args);
  } catch (error) {
    return { ok: false, message: `${String(error)}\n\n${usage}`, status: 64 };
  }
  const [action, id, ...extra] = parsed.positionals;
  const queueName = parsed.values.queue ?? WEBHOOK_QUEUE;
  const limit = Number(parsed.values.limit ?? 50);
  const wantsId = action === 'retry' || action === 'drop';
  if (
    !['dead', 'retry', 'drop'].includes(action ?? '') ||
    extra.length > 0 ||
    (wantsId ? id === undefined : id !== undefined) ||
    !Number.isInteger(limit) ||
    limit < 1 ||
    limit > 1_000
  ) {
    return { ok: false, message: `invalid jobs command\n\n${usage}`, status: 64 };
  }

  const runtime = await openRuntime();
  const { config, logger, postgres } = runtime;
  const queue = new Queue(queueName, {
    connection: runtime.redis.state,
    prefix: queuePrefix(config.redis.keyPrefix),
    telemetry: queueTelemetry(),
  });
  queue.on('error', (error) => logger.debug({ err: error.message }, 'queue error'));
  try {
    if (queueName === OUTBOX_DEAD_LETTERS) {
      if (wantsId && !OUTBOX_ID.test(String(id))) {
        return { ok: false, message: `${id} is not an outbox row id (a number)`, status: 64 };
      }
      const deadLetters = new OutboxDeadLetters({
        postgres,
        writer: new OutboxWriter({ postgres, logger }),
      });
      try {
        if (action === 'dead') {
          return { ok: true, output: (await deadLetters.list(limit)).map(outboxLine).join('\n') };
        }
        if (action === 'retry') {
          const appended = await deadLetters.retry(String(id));
          return { ok: true, output: `outbox row ${id} written again as row ${appended}` };
        }
        await deadLetters.drop(String(id));
        return { ok: true, output: `outbox row ${id} dropped` };
      } catch (error) {
        if (
          error instanceof OutboxRowNotDeadError ||
          error instanceof OutboxRowStillMalformedError
        ) {
          return { ok: false, message: error.message, status: 1 };
        }
        throw error;
      }
    }
    if (queueName === WEBHOOK_QUEUE) {
      if (wantsId && !UUID.test(String(id))) {
        return { ok: false, message: `${id} is not a delivery id (a UUID)`, status: 64 };
      }
      const webhooks = new WebhookService({
        postgres,
        queue: new DeliveryQueue({ queue, maxAttempts: config.webhooks.maxAttempts }),
        allowedHosts: config.webhooks.allowedHosts,
        secretBox: webhookSecretBox(config.webhooks.secretKeys),
        logger,
      });
      try {
        if (action === 'dead') {
          const dead = await webhooks.deadLetters(limit);
          return { ok: true, output: dead.map(deliveryLine).join('\n') };
        }
        if (action === 'retry') {
          await webhooks.retry(String(id));
          return { ok: true, output: `delivery ${id} is pending again` };
        }
        await webhooks.drop(String(id));
        return { ok: true, output: `delivery ${id} dropped` };
      } catch (error) {
        if (error instanceof DeliveryNotFoundError || error instanceof DeliveryNotDeadError) {
          return { ok: false, message: error.message, status: 1 };
        }
        throw error;
      }
    }

    if (action === 'dead') {
      const failed = await queue.getFailed(0, limit - 1);
      const lines = failed.map((job) =>
        [
          job.id,
          job.name,
          `attempts=${job.attemptsMade}`,
          new Date(job.finishedOn ?? job.timestamp).toISOString(),
          job.failedReason,
        ].join('\t'),
      );
      return { ok: true, output: lines.join('\n') };
    }
    const job = await queue.getJob(String(id));
    if (!job || !(await job.isFailed())) {
      return { ok: false, message: `no failed job ${id} in queue ${queueName}`, status: 1 };
    }
    if (action === 'retry') {
      await job.retry('failed');
      return { ok: true, output: `job ${id} of ${queueName} queued again` };
    }
    await job.remove();
    return { ok: true, output: `job ${id} of ${queueName} dropped` };
  } finally {
    await queue.close();
    await runtime.close();
  }
}
