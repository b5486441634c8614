import { type ApiRoute, defineRoute } from '../../../lib/http/api-route.js';
import type { WebhookService } from '../../../lib/webhooks/index.js';
import { requirePrincipal, requireRole, requireSession, security } from '../authentication.js';
import {
  createdWebhookSchema,
  deliveryListQuery,
  deliveryListResponse,
  deliveryParams,
  deliverySchema,
  newWebhookBody,
  webhookDetailSchema,
  webhookListResponse,
  webhookParams,
  webhookPatchBody,
  webhookSchema,
} from './webhook.schemas.js';

const tags = ['webhooks'];
const adminsOnly = 'Admins only, with a login session.';

/**
 * Outgoing webhooks (docs/api.md). Admins with a login session only, as for API keys: a
 * webhook receives every event of the institution, so a leaked API key must not be able to
 * point one at itself.
 */
export function webhookRoutes(deps: { webhooks: WebhookService }): ApiRoute[] {
  const { webhooks } = deps;
  const guards = [requireSession, requireRole('admin')];
  return [
    defineRoute({
      method: 'post',
      path: '/admin/webhooks',
      operationId: 'createWebhook',
      summary: 'Register a webhook (its signing secret is shown in this answer only)',
      description: `${adminsOnly} Every committed event of the listed types is POSTed to the URL, signed (Quad-Signature) and retried with backoff until a 2xx or the dead-letter state. A URL outside WEBHOOK_ALLOWED_HOSTS is a 400 url_refused.`,
      tags,
      security: security.session,
      body: newWebhookBody,
      problems: ['forbidden', 'too_many_webhooks'],
      success: { status: 201, description: 'Created', body: createdWebhookSchema },
      authorize: guards,
      async handle({ body }, req) {
        const { webhook, secret } = await webhooks.create({
          url: body.url,
          events: body.events,
          createdBy: requirePrincipal(req).userId,
        });
        return { ...webhook, secret };
      },
    }),

    defineRoute({
      method: 'get',
      path: '/admin/webhooks',
      operationId: 'listWebhooks',
      summary: 'List webhooks (never their secrets)',
      description: adminsOnly,
      tags,
      security: security.session,
      problems: ['forbidden'],
      success: {
        status: 200,
        description: 'All webhooks, newest first',
        body: webhookListResponse,
      },
      authorize: guards,
      handle: async () => ({ webhooks: await webhooks.list() }),
    }),

    defineRoute({
      method: 'get',
      path: '/admin/webhooks/:id',
      operationId: 'getWebhook',
      summary: 'A webhook with its delivery counts and last attempt',
      description: adminsOnly,
      tags,
      security: security.session,
      params: webhookParams,
      problems: ['forbidden', 'not_found'],
      success: { status: 200, description: 'The webhook', body: webhookDetailSchema },
      authorize: guards,
      handle: ({ params }) => webhooks.get(params.id),
    }),

    defineRoute({
      method: 'patch',
      path: '/admin/webhooks/:id',
      operationId: 'updateWebhook',
      summary: 'Change a webhook’s URL, event types or active flag',
      description: `${adminsOnly} Deliveries not yet sent go to the new URL.`,
      tags,
      security: security.session,
      params: webhookParams,
      body: webhookPatchBody,
      problems: ['forbidden', 'not_found'],
      success: { status: 200, description: 'The updated webhook', body: webhookSchema },
      authorize: guards,
      handle: ({ params, body }) => webhooks.update(params.id, body),
    }),

    defineRoute({
      method: 'delete',
      path: '/admin/webhooks/:id',
      operationId: 'deleteWebhook',
      summary: 'Delete a webhook and its deliveries',
      description: `${adminsOnly} Deliveries in flight are not sent again.`,
      tags,
      security: security.session,
      params: webhookParams,
      problems: ['forbidden', 'not_found'],
      success: { status: 204, description: 'Deleted' },
      authorize: guards,
      async handle({ params }) {
        await webhooks.delete(params.id);
        return undefined;
      },
    }),

    defineRoute({
      method: 'get',
      path: '/admin/webhooks/:id/deliveries',
      operationId: 'listWebhookDeliveries',
      summary: 'A webhook’s deliveries, newest first: status, attempts, last answer',
      description: `${adminsOnly} status=dead lists its dead letters.`,
      tags,
      security: security.session,
      params: webhookParams,
      query: deliveryListQuery,
      problems: ['forbidden', 'not_found'],
      success: { status: 200, description: 'Deliveries', body: deliveryListResponse },
      authorize: guards,
      handle: async ({ params, query }) => ({
        deliveries: await webhooks.deliveries(params.id, {
          status: query.status,
          limit: query.limit,
        }),
      }),
    }),

    defineRoute({
      method: 'post',
      path: '/admin/webhooks/:id/deliveries/:deliveryId/retry',
      operationId: 'retryWebhookDelivery',
      summary: 'Send a dead-lettered delivery again, with a fresh budget of attempts',
      description: `${adminsOnly} 409 delivery_not_dead unless the delivery is dead.`,
      tags,
      security: security.session,
      params: deliveryParams,
      problems: ['forbidden', 'not_found', 'delivery_not_dead'],
      success: { status: 202, description: 'Pending again', body: deliverySchema },
      authorize: guards,
      handle: ({ params }) => webhooks.retry(params.deliveryId, params.id),
    }),
  ];
}
