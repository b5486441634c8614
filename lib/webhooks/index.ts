export { fullJitterDelayMs } from './backoff.js';
export {
  DELIVERY_BACKOFF,
  type DeliveryJobData,
  DeliveryQueue,
  WEBHOOK_QUEUE,
} from './delivery-queue.js';
export { webhookRepository } from './webhook.repository.js';
export { WebhookService } from './webhook.service.js';
export {
  type DeliverySettings,
  type DeliveryStatus,
  type Webhook,
  type WebhookBody,
  type WebhookDelivery,
  type WebhookEventType,
  type WebhookStats,
  webhookEventTypes,
} from './webhook.types.js';
export { InternalAddressError, isInternalAddress } from './webhook-address.js';
export { WebhookOutboxConsumer, webhookBody } from './webhook-consumer.js';
export {
  createDeliveryProcessor,
  DeliveryRetryError,
  deliveryBackoff,
} from './webhook-delivery.js';
export {
  DeliveryNotDeadError,
  DeliveryNotFoundError,
  TooManyWebhooksError,
  WebhookNotFoundError,
  WebhookUrlRefusedError,
} from './webhook-errors.js';
export { WebhookMetrics } from './webhook-metrics.js';
export {
  parseSecretKey,
  WebhookSecretBox,
  type WebhookSecretKeys,
  WebhookSecretUnreadableError,
  webhookSecretBox,
} from './webhook-secret-box.js';
export { resealWebhookSecrets } from './webhook-secret-reseal.js';
export {
  EVENT_ID_HEADER,
  SIGNATURE_HEADER,
  signatureHeader,
  verifySignature,
} from './webhook-signature.js';
export { createWebhookTransport, type WebhookTransport } from './webhook-transport.js';
export { webhookUrlRefusal } from './webhook-url.js';
