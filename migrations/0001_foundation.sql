-- Up Migration

-- Institution-wide settings an administrator changes at run time (retention period, the
-- institution's display name, ...). Environment variables configure the deployment; this
-- table configures the institution. Later migrations add the messaging schema.
CREATE TABLE institution_settings (
  key text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]{0,63}$'),
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE institution_settings;
