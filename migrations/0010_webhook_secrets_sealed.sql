-- Up Migration

-- Webhook signing secrets are sealed at rest (AES-256-GCM with WEBHOOK_SECRET_KEY, which lives
-- in the env file, never here): webhooks.secret holds `v1.<key id>.<nonce>.<ciphertext>.<tag>`,
-- so a dump or a backup of this database alone yields no secret (lib/webhooks/
-- webhook-secret-box.ts). SQL cannot seal the rows written before, because it does not have
-- the key: the worker and the api seal them at start-up. Hence NOT VALID: existing rows are
-- not checked now, but every row inserted or updated from here on must be sealed, so no code
-- path can store a secret in clear again.
ALTER TABLE webhooks
  ADD CONSTRAINT webhooks_secret_sealed CHECK (secret LIKE 'v1.%') NOT VALID;

COMMENT ON COLUMN webhooks.secret IS
  'HMAC signing secret sealed with WEBHOOK_SECRET_KEY (AES-256-GCM, the webhook id as associated data): v1.<key id>.<nonce>.<ciphertext>.<tag>';

-- Down Migration
COMMENT ON COLUMN webhooks.secret IS NULL;
ALTER TABLE webhooks DROP CONSTRAINT webhooks_secret_sealed;
