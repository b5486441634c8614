import { type Job, UnrecoverableError } from 'bullmq';
import type { Pool } from 'pg';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';
import { fullJitterDelayMs } from './backoff.js';
import type { DeliveryJobData } from './delivery-queue.js';
import { type DeliveryAttempt, webhookRepository } from './webhook.repository.js';
import type { DeliverySettings } from './webhook.types.js';
import { InternalAddressError } from './webhook-address.js';
import type { WebhookMetrics } from './webhook-metrics.js';
import { type WebhookSecretBox, WebhookSecretUnreadableError } from './webhook-secret-box.js';
import { resealSecret } from './webhook-secret-reseal.js';
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signatureHeader } from './webhook-signature.js';
import type { WebhookTransport } from './webhook-transport.js';
import { webhookUrlRefusal } from './webhook-url.js';

/** A failed attempt with another one due in `retryInMs` (the custom backoff reads it). */
export class DeliveryRetryError extends Error {
  constructor(
    message: string,
    readonly retryInMs: number,
  ) {
    super(message);
    this.name = 'DeliveryRetryError';
  }
}

/**
 * BullMQ's custom backoff strategy (Worker `settings.backoffStrategy`): the wait the processor
 * chose and recorded in the row's next_attempt_at, so what the admin API shows is what happens.
 * Anything else (a bug thrown before an attempt) waits the base delay.
 */
export function deliveryBackoff(settings: Pick<DeliverySettings, 'backoffBaseMs'>) {
  return (_attemptsMade: number, _type?: string, error?: Error): number =>
    error instanceof DeliveryRetryError ? error.retryInMs : settings.backoffBaseMs;
}

interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  /** No later attempt can do better (the URL is refused): dead at once. */
  final: boolean;
}

/**
 * One attempt of one delivery, as a BullMQ processor. The row in PostgreSQL is read first and
 * decides: a delivery that succeeded (or was dropped, or dead-lettered) is never sent again,
 * whatever job asks for it. The receiver gets the event exactly once in effect: at most one
 * 2xx is ever recorded, and the rare duplicate POST (a worker killed after the receiver
 * answered but before the row was updated) carries the same Quad-Event-Id, by which receivers
 * deduplicate (docs/api.md).
 */
export function createDeliveryProcessor(deps: {
  postgres: Pool;
  settings: DeliverySettings;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Opens the stored signing secrets. */
  secretBox: WebhookSecretBox;
  /** Connects only to addresses the settings allow (createWebhookTransport). */
  transport: WebhookTransport;
}) {
  const { postgres, settings, metrics, secretBox, transport } = deps;
  const logger = deps.logger.child({ component: 'webhooks' });

  /** The signing secret; a secret not sealed with the current key yet is sealed now. */
  async function signingSecret(attempt: DeliveryAttempt): Promise<string> {
    const secret = secretBox.open(attempt.storedSecret, attempt.webhookId);
    if (!secretBox.isCurrent(attempt.storedSecret)) {
      await resealSecret(postgres, secretBox, attempt.webhookId, attempt.storedSecret);
    }
    return secret;
  }

  async function post(attempt: DeliveryAttempt): Promise<AttemptOutcome> {
    const refusal = webhookUrlRefusal(attempt.url, settings.allowedHosts);
    if (refusal !== undefined) {
      return { ok: false, statusCode: null, error: `URL refused: ${refusal}`, final: true };
    }
    let secret: string;
    try {
      secret = await signingSecret(attempt);
    } catch (error) {
      if (!(error instanceof WebhookSecretUnreadableError)) throw error;
      return { ok: false, statusCode: null, error: error.message, final: true };
    }
    const body = JSON.stringify(attempt.body);
    const started = performance.now();
    try {
      const status = await transport.post(
        attempt.url,
        body,
        {
          'content-type': 'application/json',
          'user-agent': 'Quad-Webhooks/1',
          [SIGNATURE_HEADER]: signatureHeader(secret, body, Math.floor(Date.now() / 1_000)),
          [EVENT_ID_HEADER]: attempt.eventId,
        },
        settings.requestTimeoutMs,
      );
      // A redirect (3xx) is a failed attempt too: the transport never follows one.
      const ok = status >= 200 && status < 300;
      metrics.observe(ok ? 'success' : 'failure', (performance.now() - started) / 1_000);
      return { ok, statusCode: status, error: ok ? null : `HTTP ${status}`, final: false };
    } catch (error) {
      metrics.observe('failure', (performance.now() - started) / 1_000);
      if (error instanceof InternalAddressError) {
        // Refused before any packet was sent. Final, like a refused URL: asking again only
        // gives a rebinding name another chance.
        return { ok: false, statusCode: null, error: `URL refused: ${error.message}`, final: true };
      }
      const timedOut = error instanceof Error && error.name === 'TimeoutError';
      const cause = error instanceof Error ? (error.cause ?? error) : error;
      return {
        ok: false,
        statusCode: null,
        error: timedOut
          ? `timed out after ${settings.requestTimeoutMs} ms`
          : cause instanceof Error
            ? cause.message
            : String(cause),
        final: false,
      };
    }
  }

  return async (job: Job<DeliveryJobData>): Promise<{ status: string }> => {
    const attempt = await webhookRepository.forAttempt(postgres, job.data.deliveryId);
    if (attempt === null || attempt.status !== 'pending') {
      metrics.attempt('skipped');
      return { status: attempt?.status ?? 'gone' };
    }
    if (!attempt.active) {
      // Stays pending: the re-queue sweep sends it once the webhook is active again.
      metrics.attempt('skipped');
      return { status: 'inactive' };
    }
    const outcome = await post(attempt);
    const attemptNumber = attempt.attempts + 1;
    const error = outcome.error?.slice(0, policy.webhooks.maxErrorChars) ?? null;
    if (outcome.ok) {
      await webhookRepository.recordAttempt(postgres, attempt.id, {
        status: 'succeeded',
        statusCode: outcome.statusCode,
        error: null,
        nextAttemptAt: null,
      });
      metrics.attempt('succeeded');
      return { status: 'succeeded' };
    }
    const dead = outcome.final || attemptNumber >= settings.maxAttempts;
    const retryInMs = dead ? 0 : fullJitterDelayMs(attemptNumber, settings);
    await webhookRepository.recordAttempt(postgres, attempt.id, {
      status: dead ? 'dead' : 'pending',
      statusCode: outcome.statusCode,
      error,
      nextAttemptAt: dead ? null : new Date(Date.now() + retryInMs),
    });
    if (dead) {
      metrics.attempt('dead');
      logger.warn(
        { deliveryId: attempt.id, eventId: attempt.eventId, attempts: attemptNumber, error },
        'webhook delivery dead-lettered',
      );
      throw new UnrecoverableError(`dead after ${attemptNumber} attempts: ${error}`);
    }
    metrics.attempt('retried');
    throw new DeliveryRetryError(`attempt ${attemptNumber} failed: ${error}`, retryInMs);
  };
}
