import type { Pool } from 'pg';
import type { OutboxConsumer, OutboxEvent } from '../outbox/outbox.types.js';
import type { DeliveryQueue } from './delivery-queue.js';
import { type NewDelivery, webhookRepository } from './webhook.repository.js';
import type { WebhookBody } from './webhook.types.js';

/** The body integrations receive for an outbox event (docs/api.md, "Webhooks"). */
export function webhookBody(event: OutboxEvent): WebhookBody {
  return {
    id: event.id,
    type: event.type,
    occurredAt: event.occurredAt,
    data: { conversationId: event.conversationId, ...event.payload },
  };
}

/**
 * The outbox consumer `webhooks`: for each committed event, one delivery row per active webhook
 * subscribed to its type (and registered before the event happened: a new webhook does not
 * receive the history the relay may still be catching up on), then one job per pending delivery.
 *
 * Idempotent, as the relay requires: the (webhook, event) unique key turns a re-handed event
 * into no new row, and re-enqueueing a pending delivery is a no-op while its job exists. The
 * rows commit before the jobs are enqueued, so a failure in between (Redis down) leaves pending
 * rows that the rejection makes the relay hand over again, and that the re-queue sweep
 * (services/worker/maintenance-jobs.ts) would find anyway. A slow or failing receiver never
 * holds the relay: it only ever waits on PostgreSQL and one Redis call.
 */
export class WebhookOutboxConsumer implements OutboxConsumer {
  readonly name = 'webhooks';
  readonly #postgres: Pool;
  readonly #queue: DeliveryQueue;

  constructor(options: { postgres: Pool; queue: DeliveryQueue }) {
    this.#postgres = options.postgres;
    this.#queue = options.queue;
  }

  async handle(events: readonly OutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    const subscriptions = await webhookRepository.subscriptions(this.#postgres);
    if (subscriptions.length === 0) return;
    const deliveries: NewDelivery[] = [];
    for (const event of events) {
      const occurredAt = Date.parse(event.occurredAt);
      for (const webhook of subscriptions) {
        if (!webhook.events.includes(event.type)) continue;
        if (occurredAt < webhook.createdAt.getTime()) continue;
        deliveries.push({
          webhookId: webhook.id,
          eventId: event.id,
          eventType: event.type,
          body: webhookBody(event),
        });
      }
    }
    const pending = await webhookRepository.insertDeliveries(this.#postgres, deliveries);
    await this.#queue.enqueue(pending);
  }
}
