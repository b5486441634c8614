import { z } from 'zod';
import { uuidField } from '../../../lib/accounts/index.js';
import { queryIntegerField } from '../../../lib/http/query-fields.js';
import { policy } from '../../../lib/policy/policy.js';
import { textField } from '../../../lib/text/text-field.js';
import { webhookEventTypes } from '../../../lib/webhooks/index.js';

/*
 * Request and response schemas of the webhook admin routes. Requests are strict (unknown
 * fields are a 400 naming them); responses never include the secret, except the one answer to
 * the create that returns it once.
 */

const timestamp = z.iso.datetime();
const { maxUrlChars, maxPageSize, defaultPageSize } = policy.webhooks;

export const webhookParams = z.strictObject({ id: uuidField });
export const deliveryParams = z.strictObject({ id: uuidField, deliveryId: uuidField });

const urlField = textField({ max: maxUrlChars })
  .regex(/^https?:\/\//i, { error: 'must be an http or https URL' })
  .meta({ description: 'Where events are POSTed (http or https; WEBHOOK_ALLOWED_HOSTS applies)' });

const eventsField = z
  .array(z.enum(webhookEventTypes, { error: `must be one of ${webhookEventTypes.join(', ')}` }))
  .min(1, { error: 'must name at least one event type' })
  .max(webhookEventTypes.length * 2)
  .meta({ description: 'The event types this webhook receives' });

export const newWebhookBody = z
  .strictObject({ url: urlField, events: eventsField })
  .meta({ id: 'NewWebhook' });

export const webhookPatchBody = z
  .strictObject({
    url: urlField.optional(),
    events: eventsField.optional(),
    active: z.boolean().optional().meta({
      description: 'false stops deliveries (pending ones wait); true sends them again',
    }),
  })
  .refine((patch) => Object.keys(patch).length > 0, { error: 'must change at least one field' })
  .meta({ id: 'WebhookPatch' });

const deliveryStatus = z.enum(['pending', 'succeeded', 'dead']);

export const deliveryListQuery = z.strictObject({
  status: deliveryStatus.optional().meta({ description: 'Only deliveries in this state' }),
  limit: queryIntegerField({ min: 1, max: maxPageSize, default: defaultPageSize }),
});

export const webhookSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    events: z.array(z.string()),
    active: z.boolean(),
    createdBy: z.uuid(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Webhook' });

export const createdWebhookSchema = webhookSchema
  .extend({
    secret: z.string().meta({
      description:
        'The signing secret (Quad-Signature). Shown in this answer only: store it now; a lost secret means deleting and re-creating the webhook.',
    }),
  })
  .meta({ id: 'CreatedWebhook' });

export const webhookDetailSchema = webhookSchema
  .extend({
    deliveries: z.object({
      pending: z.number().int(),
      succeeded: z.number().int(),
      dead: z.number().int(),
      lastAttempt: z
        .object({
          deliveryId: z.uuid(),
          status: deliveryStatus,
          statusCode: z.number().int().nullable(),
          error: z.string().nullable(),
          at: timestamp,
        })
        .nullable()
        .meta({ description: 'The most recent attempt of any delivery; null before the first' }),
    }),
  })
  .meta({ id: 'WebhookDetail' });

export const webhookListResponse = z
  .object({ webhooks: z.array(webhookSchema) })
  .meta({ id: 'WebhookList' });

export const deliverySchema = z
  .object({
    id: z.uuid(),
    webhookId: z.uuid(),
    eventId: z.string().meta({ description: 'Sent as Quad-Event-Id; the same on every attempt' }),
    eventType: z.string(),
    status: deliveryStatus.meta({ description: 'dead: every attempt failed (dead letter)' }),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    nextAttemptAt: timestamp.nullable(),
    deliveredAt: timestamp.nullable(),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'WebhookDelivery' });

export const deliveryListResponse = z
  .object({ deliveries: z.array(deliverySchema) })
  .meta({ id: 'WebhookDeliveryList' });
