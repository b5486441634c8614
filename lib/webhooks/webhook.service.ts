import { randomBytes, randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import type { Logger } from '../observability/logger.js';
import { policy } from '../policy/policy.js';
import type { DeliveryQueue } from './delivery-queue.js';
import { webhookRepository } from './webhook.repository.js';
import type {
  DeliveryStatus,
  Webhook,
  WebhookDelivery,
  WebhookEventType,
  WebhookStats,
} from './webhook.types.js';
import {
  DeliveryNotDeadError,
  DeliveryNotFoundError,
  TooManyWebhooksError,
  WebhookNotFoundError,
  WebhookUrlRefusedError,
} from './webhook-errors.js';
import type { WebhookSecretBox } from './webhook-secret-box.js';
import { resealWebhookSecrets } from './webhook-secret-reseal.js';
import { webhookUrlRefusal } from './webhook-url.js';

/** `whsec_` + 256 random bits: recognisable in a receiver's configuration and in a leak scan. */
function newSecret(): string {
  return `whsec_${randomBytes(policy.webhooks.secretBytes).toString('base64url')}`;
}

/**
 * Registering, inspecting and repairing webhooks (the admin API and `quad jobs`). Dead letters
 * live in PostgreSQL (webhook_deliveries.status = 'dead'); a retry makes one pending again with
 * a fresh budget of attempts and enqueues it. When the queue cannot be reached the retry still
 * stands: the worker's re-queue sweep enqueues overdue pending deliveries.
 */
export class WebhookService {
  readonly #postgres: Pool;
  readonly #queue: DeliveryQueue | undefined;
  readonly #allowedHosts: readonly string[] | undefined;
  readonly #secretBox: WebhookSecretBox;
  readonly #logger: Logger;

  constructor(options: {
    postgres: Pool;
    /** Absent: retries wait for the worker's re-queue sweep (the CLI without Redis). */
    queue?: DeliveryQueue;
    allowedHosts: readonly string[] | undefined;
    /** Seals signing secrets before they reach PostgreSQL. */
    secretBox: WebhookSecretBox;
    logger: Logger;
  }) {
    this.#postgres = options.postgres;
    this.#queue = options.queue;
    this.#allowedHosts = options.allowedHosts;
    this.#secretBox = options.secretBox;
    this.#logger = options.logger.child({ component: 'webhooks' });
  }

  /** Seals stored secrets not sealed with the current key (after an upgrade or a key
   *  rotation); logs instead of throwing, so PostgreSQL being away delays it, nothing more. */
  async sealStoredSecrets(): Promise<void> {
    try {
      await resealWebhookSecrets({
        postgres: this.#postgres,
        secretBox: this.#secretBox,
        logger: this.#logger,
      });
    } catch (error) {
      this.#logger.warn({ err: String(error) }, 'webhook secrets not re-sealed at start-up');
    }
  }

  /** Creates a webhook; the secret is in this answer only. */
  async create(input: {
    url: string;
    events: readonly WebhookEventType[];
    createdBy: string;
  }): Promise<{ webhook: Webhook; secret: string }> {
    this.#checkUrl(input.url);
    if ((await webhookRepository.count(this.#postgres)) >= policy.webhooks.maxWebhooks) {
      throw new TooManyWebhooksError(policy.webhooks.maxWebhooks);
    }
    const secret = newSecret();
    const id = randomUUID();
    const webhook = await webhookRepository.insert(this.#postgres, {
      id,
      url: input.url,
      sealedSecret: this.#secretBox.seal(secret, id),
      events: [...new Set(input.events)],
      createdBy: input.createdBy,
    });
    return { webhook, secret };
  }

  list(): Promise<Webhook[]> {
    return webhookRepository.list(this.#postgres);
  }

  async get(id: string): Promise<Webhook & { deliveries: WebhookStats }> {
    const webhook = await webhookRepository.find(this.#postgres, id);
    if (!webhook) throw new WebhookNotFoundError(id);
    return { ...webhook, deliveries: await webhookRepository.stats(this.#postgres, id) };
  }

  async update(
    id: string,
    patch: { url?: string; events?: readonly WebhookEventType[]; active?: boolean },
  ): Promise<Webhook> {
    if (patch.url !== undefined) this.#checkUrl(patch.url);
    const updated = await webhookRepository.update(this.#postgres, id, {
      ...patch,
      events: patch.events ? [...new Set(patch.events)] : undefined,
    });
    if (!updated) throw new WebhookNotFoundError(id);
    return updated;
  }

  async delete(id: string): Promise<void> {
    if (!(await webhookRepository.delete(this.#postgres, id))) throw new WebhookNotFoundError(id);
  }

  async deliveries(
    webhookId: string,
    filter: { status: DeliveryStatus | undefined; limit: number },
  ): Promise<WebhookDelivery[]> {
    if (!(await webhookRepository.find(this.#postgres, webhookId))) {
      throw new WebhookNotFoundError(webhookId);
    }
    return webhookRepository.deliveries(this.#postgres, webhookId, filter);
  }

  /** Dead letters across webhooks, most recently failed first (`quad jobs dead`). */
  deadLetters(limit: number): Promise<WebhookDelivery[]> {
    return webhookRepository.dead(this.#postgres, limit);
  }

  /** dead → pending, attempts from zero, enqueued now. `webhookId` scopes the id (API). */
  async retry(deliveryId: string, webhookId?: string): Promise<WebhookDelivery> {
    await this.#requireDead(deliveryId, webhookId);
    const revived = await webhookRepository.revive(this.#postgres, deliveryId);
    if (!revived) return this.#requireDead(deliveryId, webhookId);
    try {
      await this.#queue?.enqueue([deliveryId]);
    } catch (error) {
      this.#logger.warn(
        { err: String(error), deliveryId },
        'retry recorded but not enqueued: the re-queue sweep will send it',
      );
    }
    return revived;
  }

  /** Forgets a dead delivery (`quad jobs drop`). */
  async drop(deliveryId: string): Promise<void> {
    await this.#requireDead(deliveryId);
    if (!(await webhookRepository.dropDead(this.#postgres, deliveryId))) {
      await this.#requireDead(deliveryId);
    }
  }

  async #requireDead(deliveryId: string, webhookId?: string): Promise<WebhookDelivery> {
    const delivery = await webhookRepository.findDelivery(this.#postgres, deliveryId);
    if (!delivery || (webhookId !== undefined && delivery.webhookId !== webhookId)) {
      throw new DeliveryNotFoundError(deliveryId);
    }
    if (delivery.status !== 'dead') throw new DeliveryNotDeadError(deliveryId, delivery.status);
    return delivery;
  }

  #checkUrl(url: string) {
    const refusal = webhookUrlRefusal(url, this.#allowedHosts);
    if (refusal !== undefined) throw new WebhookUrlRefusedError(refusal);
  }
}
