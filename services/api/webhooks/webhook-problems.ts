import { type ProblemMapper, validationProblem } from '../../../lib/http/error-handler.js';
import {
  DeliveryNotDeadError,
  DeliveryNotFoundError,
  TooManyWebhooksError,
  WebhookNotFoundError,
  WebhookUrlRefusedError,
} from '../../../lib/webhooks/index.js';

/* Webhook errors as problem+json, mapped once, here. */
export const webhookProblems: ProblemMapper = (error) => {
  if (error instanceof WebhookNotFoundError) {
    return {
      problem: { status: 404, code: 'not_found', title: 'Not Found', detail: 'No such webhook.' },
    };
  }
  if (error instanceof DeliveryNotFoundError) {
    return {
      problem: {
        status: 404,
        code: 'not_found',
        title: 'Not Found',
        detail: 'No such delivery of this webhook.',
      },
    };
  }
  if (error instanceof DeliveryNotDeadError) {
    return {
      problem: {
        status: 409,
        code: 'delivery_not_dead',
        title: 'Conflict',
        detail: `Only a dead delivery can be retried; this one is ${error.status}.`,
      },
    };
  }
  if (error instanceof TooManyWebhooksError) {
    return {
      problem: {
        status: 409,
        code: 'too_many_webhooks',
        title: 'Conflict',
        detail: `At most ${error.limit} webhooks; delete one first.`,
      },
    };
  }
  if (error instanceof WebhookUrlRefusedError) {
    return {
      problem: validationProblem([
        { in: 'body', field: 'url', code: 'url_refused', message: error.reason },
      ]),
    };
  }
  return undefined;
};
