/** No webhook with this id. */
export class WebhookNotFoundError extends Error {
  constructor(readonly webhookId: string) {
    super(`webhook ${webhookId} not found`);
    this.name = 'WebhookNotFoundError';
  }
}

/** No delivery with this id (for this webhook). */
export class DeliveryNotFoundError extends Error {
  constructor(readonly deliveryId: string) {
    super(`webhook delivery ${deliveryId} not found`);
    this.name = 'DeliveryNotFoundError';
  }
}

/** Only a dead-lettered delivery can be retried or dropped by hand. */
export class DeliveryNotDeadError extends Error {
  constructor(
    readonly deliveryId: string,
    readonly status: string,
  ) {
    super(`webhook delivery ${deliveryId} is ${status}, not dead`);
    this.name = 'DeliveryNotDeadError';
  }
}

/** A URL the deployment does not deliver to (scheme, credentials, host not allowed). */
export class WebhookUrlRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`webhook URL refused: ${reason}`);
    this.name = 'WebhookUrlRefusedError';
  }
}

/** policy.webhooks.maxWebhooks reached. */
export class TooManyWebhooksError extends Error {
  constructor(readonly limit: number) {
    super(`at most ${limit} webhooks`);
    this.name = 'TooManyWebhooksError';
  }
}
