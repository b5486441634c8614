import type { QueryResultRow } from 'pg';
import { firstRowOrNull, type Queryable, returnedRow } from '../postgres/transaction.js';
import type {
  DeliveryStatus,
  Webhook,
  WebhookBody,
  WebhookDelivery,
  WebhookEventType,
  WebhookStats,
} from './webhook.types.js';

interface WebhookRow extends QueryResultRow {
  id: string;
  url: string;
  event_types: WebhookEventType[];
  active: boolean;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

/** Never `secret`: only the delivery job reads it (forAttempt), and it is sealed anyway. */
const webhookColumns = 'id, url, event_types, active, created_by, created_at, updated_at';

function toWebhook(row: WebhookRow): Webhook {
  return {
    id: row.id,
    url: row.url,
    events: row.event_types,
    active: row.active,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

interface DeliveryRow extends QueryResultRow {
  id: string;
  webhook_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: Date | null;
  delivered_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const deliveryColumns =
  'id, webhook_id, event_id, event_type, status, attempts, last_status_code, last_error, next_attempt_at, delivered_at, created_at, updated_at';

const iso = (value: Date | null) => (value === null ? null : value.toISOString());

function toDelivery(row: DeliveryRow): WebhookDelivery {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    eventId: String(row.event_id),
    eventType: row.event_type,
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    nextAttemptAt: iso(row.next_attempt_at),
    deliveredAt: iso(row.delivered_at),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** What one attempt needs: the delivery, its webhook's target and secret. */
export interface DeliveryAttempt {
  id: string;
  status: DeliveryStatus;
  attempts: number;
  eventId: string;
  body: WebhookBody;
  webhookId: string;
  url: string;
  /** As stored: sealed (WebhookSecretBox), or plain from before encryption. */
  storedSecret: string;
  active: boolean;
}

/** A delivery to create for a committed outbox event. */
export interface NewDelivery {
  webhookId: string;
  eventId: string;
  eventType: string;
  body: WebhookBody;
}

/** An active webhook as the outbox consumer matches events against it. */
export interface Subscription {
  id: string;
  events: readonly string[];
  createdAt: Date;
}

/** SQL for webhooks and webhook_deliveries; callers pass the pool or a transaction's client. */
export const webhookRepository = {
  /** `sealedSecret` is sealed for `id` (the associated data), hence the id chosen by Quad. */
  async insert(
    db: Queryable,
    webhook: {
      id: string;
      url: string;
      sealedSecret: string;
      events: readonly string[];
      createdBy: string;
    },
  ): Promise<Webhook> {
    const result = await db.query<WebhookRow>(
      `INSERT INTO webhooks (id, url, secret, event_types, created_by) VALUES ($1, $2, $3, $4, $5)
       RETURNING ${webhookColumns}`,
      [webhook.id, webhook.url, webhook.sealedSecret, webhook.events, webhook.createdBy],
    );
    return toWebhook(returnedRow(result));
  },

  /** Stored secrets not sealed with the current key (`currentPrefix`): from before
   *  encryption or sealed with the previous key. Webhooks are few (policy.webhooks.maxWebhooks). */
  async secretsToReseal(
    db: Queryable,
    currentPrefix: string,
  ): Promise<Array<{ id: string; storedSecret: string }>> {
    const result = await db.query<{ id: string; secret: string }>(
      'SELECT id, secret FROM webhooks WHERE NOT starts_with(secret, $1) ORDER BY id',
      [currentPrefix],
    );
    return result.rows.map((row) => ({ id: row.id, storedSecret: row.secret }));
  },

  /** Replaces a stored secret if it is still `expected` (api and worker may re-seal at once);
   *  false when another process got there first. */
  async replaceSecret(
    db: Queryable,
    id: string,
    expected: string,
    sealedSecret: string,
  ): Promise<boolean> {
    const result = await db.query('UPDATE webhooks SET secret = $3 WHERE id = $1 AND secret = $2', [
      id,
      expected,
      sealedSecret,
    ]);
    return (result.rowCount ?? 0) > 0;
  },

  async count(db: Queryable): Promise<number> {
    const result = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM webhooks');
    return result.rows[0]?.n ?? 0;
  },

  async list(db: Queryable): Promise<Webhook[]> {
    const result = await db.query<WebhookRow>(
      `SELECT ${webhookColumns} FROM webhooks ORDER BY created_at DESC, id`,
    );
    return result.rows.map(toWebhook);
  },

  async find(db: Queryable, id: string): Promise<Webhook | null> {
    const result = await db.query<WebhookRow>(
      `SELECT ${webhookColumns} FROM webhooks WHERE id = $1`,
      [id],
    );
    return firstRowOrNull(result, toWebhook);
  },

  /** Changes the given fields only; null when there is no such webhook. */
  async update(
    db: Queryable,
    id: string,
    patch: { url?: string; events?: readonly string[]; active?: boolean },
  ): Promise<Webhook | null> {
    const result = await db.query<WebhookRow>(
      `UPDATE webhooks SET
         url = coalesce($2, url),
         event_types = coalesce($3, event_types),
         active = coalesce($4, active),
         updated_at = now()
       WHERE id = $1
       RETURNING ${webhookColumns}`,
      [id, patch.url ?? null, patch.events ?? null, patch.active ?? null],
    );
    return firstRowOrNull(result, toWebhook);
  },

  /** Deletes the webhook and its deliveries; false when there was none. */
  async delete(db: Queryable, id: string): Promise<boolean> {
    const result = await db.query('DELETE FROM webhooks WHERE id = $1', [id]);
    return (result.rowCount ?? 0) > 0;
  },

  async stats(db: Queryable, webhookId: string): Promise<WebhookStats> {
    const counts = await db.query<{ status: DeliveryStatus; n: number }>(
      `SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE webhook_id = $1
       GROUP BY status`,
      [webhookId],
    );
    const by = new Map(counts.rows.map((row) => [row.status, row.n]));
    const last = await db.query<DeliveryRow>(
      `SELECT ${deliveryColumns} FROM webhook_deliveries
       WHERE webhook_id = $1 AND attempts > 0
       ORDER BY updated_at DESC, id LIMIT 1`,
      [webhookId],
    );
    const row = last.rows[0];
    return {
      pending: by.get('pending') ?? 0,
      succeeded: by.get('succeeded') ?? 0,
      dead: by.get('dead') ?? 0,
      lastAttempt: row
        ? {
            deliveryId: row.id,
            status: row.status,
            statusCode: row.last_status_code,
            error: row.last_error,
            at: row.updated_at.toISOString(),
          }
        : null,
    };
  },

  /** A webhook's deliveries, newest first. */
  async deliveries(
    db: Queryable,
    webhookId: string,
    filter: { status: DeliveryStatus | undefined; limit: number },
  ): Promise<WebhookDelivery[]> {
    const result = await db.query<DeliveryRow>(
      `SELECT ${deliveryColumns} FROM webhook_deliveries
       WHERE webhook_id = $1 AND ($2::text IS NULL OR status = $2)
       ORDER BY created_at DESC, id LIMIT $3`,
      [webhookId, filter.status ?? null, filter.limit],
    );
    return result.rows.map(toDelivery);
  },

  async findDelivery(db: Queryable, deliveryId: string): Promise<WebhookDelivery | null> {
    const result = await db.query<DeliveryRow>(
      `SELECT ${deliveryColumns} FROM webhook_deliveries WHERE id = $1`,
      [deliveryId],
    );
    return firstRowOrNull(result, toDelivery);
  },

  /** Dead-lettered deliveries across webhooks, the most recently failed first. */
  async dead(db: Queryable, limit: number): Promise<WebhookDelivery[]> {
    const result = await db.query<DeliveryRow>(
      `SELECT ${deliveryColumns} FROM webhook_deliveries WHERE status = 'dead'
       ORDER BY updated_at DESC, id LIMIT $1`,
      [limit],
    );
    return result.rows.map(toDelivery);
  },

  async countDead(db: Queryable): Promise<number> {
    const result = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'dead'`,
    );
    return result.rows[0]?.n ?? 0;
  },

  /** dead → pending with a fresh budget of attempts; null when it is not dead (any more). */
  async revive(db: Queryable, deliveryId: string): Promise<WebhookDelivery | null> {
    const result = await db.query<DeliveryRow>(
      `UPDATE webhook_deliveries
       SET status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
       WHERE id = $1 AND status = 'dead'
       RETURNING ${deliveryColumns}`,
      [deliveryId],
    );
    return firstRowOrNull(result, toDelivery);
  },

  /** Forgets a dead delivery for good; false when it is not dead (or not there). */
  async dropDead(db: Queryable, deliveryId: string): Promise<boolean> {
    const result = await db.query(
      `DELETE FROM webhook_deliveries WHERE id = $1 AND status = 'dead'`,
      [deliveryId],
    );
    return (result.rowCount ?? 0) > 0;
  },

  async subscriptions(db: Queryable): Promise<Subscription[]> {
    const result = await db.query<{ id: string; event_types: string[]; created_at: Date }>(
      'SELECT id, event_types, created_at FROM webhooks WHERE active',
    );
    return result.rows.map((row) => ({
      id: row.id,
      events: row.event_types,
      createdAt: row.created_at,
    }));
  },

  /**
   * Creates the deliveries that do not exist yet (a re-handed event creates none) and returns
   * the ids of every still-pending delivery of these events: a batch handed over again after a
   * crash between insert and enqueue gets its jobs enqueued then.
   */
  async insertDeliveries(db: Queryable, deliveries: readonly NewDelivery[]): Promise<string[]> {
    if (deliveries.length === 0) return [];
    await db.query(
      `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, body, next_attempt_at)
       SELECT w, e, t, b, now()
       FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::jsonb[]) AS d (w, e, t, b)
       ON CONFLICT (webhook_id, event_id) DO NOTHING`,
      [
        deliveries.map((d) => d.webhookId),
        deliveries.map((d) => d.eventId),
        deliveries.map((d) => d.eventType),
        deliveries.map((d) => JSON.stringify(d.body)),
      ],
    );
    const pending = await db.query<{ id: string }>(
      `SELECT d.id FROM webhook_deliveries d
       JOIN unnest($1::uuid[], $2::bigint[]) AS k (w, e) ON d.webhook_id = k.w AND d.event_id = k.e
       WHERE d.status = 'pending'
       ORDER BY d.event_id, d.id`,
      [deliveries.map((d) => d.webhookId), deliveries.map((d) => d.eventId)],
    );
    return pending.rows.map((row) => row.id);
  },

  async forAttempt(db: Queryable, deliveryId: string): Promise<DeliveryAttempt | null> {
    const result = await db.query<{
      id: string;
      status: DeliveryStatus;
      attempts: number;
      event_id: string;
      body: WebhookBody;
      webhook_id: string;
      url: string;
      secret: string;
      active: boolean;
    }>(
      `SELECT d.id, d.status, d.attempts, d.event_id, d.body, d.webhook_id, w.url, w.secret, w.active
       FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
       WHERE d.id = $1`,
      [deliveryId],
    );
    const row = result.rows[0];
    if (!row) return null;
    return {
      id: row.id,
      status: row.status,
      attempts: row.attempts,
      eventId: String(row.event_id),
      body: row.body,
      webhookId: row.webhook_id,
      url: row.url,
      storedSecret: row.secret,
      active: row.active,
    };
  },

  /** Records one attempt's outcome, only while the delivery is still pending (a concurrent
   *  run of a stalled job cannot turn a success back into a failure). */
  async recordAttempt(
    db: Queryable,
    deliveryId: string,
    outcome: {
      status: DeliveryStatus;
      statusCode: number | null;
      error: string | null;
      nextAttemptAt: Date | null;
    },
  ): Promise<number | null> {
    const result = await db.query<{ attempts: number }>(
      `UPDATE webhook_deliveries SET
         status = $2,
         attempts = attempts + 1,
         last_status_code = $3,
         last_error = $4,
         next_attempt_at = $5,
         delivered_at = CASE WHEN $2 = 'succeeded' THEN now() ELSE delivered_at END,
         updated_at = now()
       WHERE id = $1 AND status = 'pending'
       RETURNING attempts`,
      [deliveryId, outcome.status, outcome.statusCode, outcome.error, outcome.nextAttemptAt],
    );
    return result.rows[0]?.attempts ?? null;
  },

  /** Pending deliveries of active webhooks whose next attempt is overdue by `lateMs`: their
   *  job was lost (state Redis flushed) or never enqueued (Redis down at the time). */
  async overdue(db: Queryable, lateMs: number, limit: number): Promise<string[]> {
    const result = await db.query<{ id: string }>(
      `SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
       WHERE d.status = 'pending' AND w.active
         AND d.next_attempt_at < now() - make_interval(secs => $1::double precision / 1000)
       ORDER BY d.next_attempt_at LIMIT $2`,
      [lateMs, limit],
    );
    return result.rows.map((row) => row.id);
  },

  /** Deletes up to `limit` succeeded deliveries older than `days`; returns how many. */
  async pruneDelivered(db: Queryable, days: number, limit: number): Promise<number> {
    const result = await db.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries
         WHERE status = 'succeeded' AND delivered_at < now() - make_interval(days => $1)
         LIMIT $2)`,
      [days, limit],
    );
    return result.rowCount ?? 0;
  },
};
