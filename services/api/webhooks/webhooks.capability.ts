import type { WebhookService } from '../../../lib/webhooks/index.js';
import type { ApiCapability } from '../api-capability.js';
import { webhookRoutes } from './webhook.routes.js';
import { webhookProblems } from './webhook-problems.js';

/** Outgoing webhooks to integrations: registration and dead letters (docs/api.md). */
export function webhooksCapability(deps: { webhooks: WebhookService }): ApiCapability {
  return { name: 'webhooks', routes: webhookRoutes(deps), problems: webhookProblems };
}
