-- Up Migration

-- Dead letters of the outbox. The relay validates every row against its type's schema
-- (lib/outbox/outbox.types.ts) before any consumer sees it; a row that fails (written by hand,
-- by an older or buggy version) is marked here instead of being handed over or retried, and is
-- passed by every consumer so the rows after it still flow. It stays (retention only prunes
-- published rows) for an operator to inspect (`quad jobs dead --queue outbox`) and drop.
ALTER TABLE outbox
  ADD COLUMN dead_lettered_at timestamptz,
  ADD COLUMN dead_letter_reason text
    CONSTRAINT outbox_dead_letter_reason_length CHECK (char_length(dead_letter_reason) <= 500);
CREATE INDEX outbox_dead_letters ON outbox (dead_lettered_at) WHERE dead_lettered_at IS NOT NULL;

-- Down Migration
DROP INDEX outbox_dead_letters;
ALTER TABLE outbox DROP COLUMN dead_letter_reason, DROP COLUMN dead_lettered_at;
