-- Up Migration

-- Outgoing webhooks, and the index the retention clean-up needs.
--
-- The signing secret is stored as given, not hashed: unlike an API key, which Quad only has to
-- recognise (so api_keys keeps a SHA-256), a webhook secret is an HMAC key the worker must hold
-- to sign every delivery. It is returned once, in the answer to POST /admin/webhooks, and never
-- again by any route; a lost secret is replaced by deleting and re-creating the webhook.
-- Encrypting it at rest with a key kept outside PostgreSQL would also protect a leaked dump; it
-- is left for when Quad has a key-management story (docs/architecture.md, webhooks).
CREATE TABLE webhooks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Only http and https: the worker never speaks file:, gopher: or anything else to a URL an
  -- admin typed. Which hosts are allowed is the operator's choice (WEBHOOK_ALLOWED_HOSTS).
  url text NOT NULL CONSTRAINT webhooks_url_scheme CHECK (url ~ '^https?://' AND char_length(url) <= 2048),
  secret text NOT NULL CONSTRAINT webhooks_secret_length CHECK (char_length(secret) >= 32),
  -- Outbox event types (lib/outbox/outbox.types.ts) the integration wants.
  event_types text[] NOT NULL CONSTRAINT webhooks_event_types CHECK (cardinality(event_types) >= 1),
  active boolean NOT NULL DEFAULT true,
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per (webhook, event): the dead-letter state and what the admin API shows. The
-- unique key makes a re-handed outbox event (the relay runs a batch again after a crash) a
-- no-op instead of a second delivery.
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  -- The outbox row's id (its bigserial). No foreign key: the outbox is pruned once every
  -- consumer has passed a row, while a dead delivery must stay retryable; hence also the body.
  event_id bigint NOT NULL,
  event_type text NOT NULL,
  -- The JSON body POSTed, fixed at creation: every attempt sends the same bytes.
  body jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending'
    CONSTRAINT webhook_deliveries_status CHECK (status IN ('pending', 'succeeded', 'dead')),
  attempts integer NOT NULL DEFAULT 0 CONSTRAINT webhook_deliveries_attempts CHECK (attempts >= 0),
  last_status_code integer,
  last_error text CONSTRAINT webhook_deliveries_last_error_length CHECK (char_length(last_error) <= 500),
  next_attempt_at timestamptz,
  delivered_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT webhook_deliveries_once UNIQUE (webhook_id, event_id)
);
-- A webhook's deliveries, newest first (admin API).
CREATE INDEX webhook_deliveries_webhook_recent ON webhook_deliveries (webhook_id, created_at DESC, id);
-- Dead letters (metrics, `quad jobs dead`) and pending ones whose job may be lost (re-queue).
CREATE INDEX webhook_deliveries_dead ON webhook_deliveries (updated_at) WHERE status = 'dead';
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

-- Retention: the institution's period lives in institution_settings under the key
-- 'messages.retention_days' (a whole number of days; absent or null = keep forever). The
-- clean-up looks for the oldest messages still carrying a body.
CREATE INDEX messages_retention ON messages (created_at) WHERE deleted_at IS NULL;

-- Down Migration
DROP INDEX messages_retention;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
