import type { OutboxEventType } from '../outbox/outbox.types.js';

/** Every outbox event type an integration can subscribe to, in the order docs list them. */
export const webhookEventTypes = [
  'message.created',
  'message.updated',
  'message.deleted',
  'receipt.advanced',
  'member.added',
  'member.removed',
  'call.started',
  'call.participant-joined',
  'call.participant-left',
  'call.ended',
] as const satisfies readonly OutboxEventType[];

export type WebhookEventType = (typeof webhookEventTypes)[number];

// A type added to the outbox and forgotten here fails to compile (it would never be offered).
type Unlisted = Exclude<OutboxEventType, WebhookEventType>;
const everyOutboxTypeListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyOutboxTypeListed;

export type DeliveryStatus = 'pending' | 'succeeded' | 'dead';

/** A registered webhook as the admin API shows it: never its secret. */
export interface Webhook {
  id: string;
  url: string;
  events: WebhookEventType[];
  active: boolean;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

/** The outcome of a webhook's deliveries so far, for GET /admin/webhooks/:id. */
export interface WebhookStats {
  pending: number;
  succeeded: number;
  dead: number;
  /** The most recent attempt of any delivery. */
  lastAttempt: {
    deliveryId: string;
    status: DeliveryStatus;
    statusCode: number | null;
    error: string | null;
    at: string;
  } | null;
}

export interface WebhookDelivery {
  id: string;
  webhookId: string;
  /** The outbox event id (decimal string), also sent as Quad-Event-Id. */
  eventId: string;
  eventType: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What is POSTed: the same bytes on every attempt of one delivery. */
export interface WebhookBody {
  id: string;
  type: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

/** The settings a delivery runs with (policy.webhooks, overridden by WEBHOOK_*). */
export interface DeliverySettings {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  requestTimeoutMs: number;
  allowedHosts: readonly string[] | undefined;
}
