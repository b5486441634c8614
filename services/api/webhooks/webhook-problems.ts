import { type ProblemMapper, validationProblem } from '../../../lib/http/error-handler.js';
import { problemFor } from '../../../lib/http/problem-codes.js';
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
      problem: problemFor('not_found', { detail: 'No such webhook.' }),
    };
  }
  if (error instanceof DeliveryNotFoundError) {
    return {
      problem: problemFor('not_found', { detail: 'No such delivery of this webhook.' }),
    };
  }
  if (error instanceof DeliveryNotDeadError) {
    return {
      problem: problemFor('delivery_not_dead', {
        detail: `Only a dead delivery can be retried; this one is ${error.status}.`,
      }),
    };
  }
  if (error instanceof TooManyWebhooksError) {
    return {
      problem: problemFor('too_many_webhooks', {
        detail: `At most ${error.limit} webhooks; delete one first.`,
      }),
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
