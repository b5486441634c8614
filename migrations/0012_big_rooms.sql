-- Up Migration

-- Big rooms: what a message costs must not grow with the number of members.

-- Unread counts are derived rather than kept per member: a member's cached count holds while
-- the conversation's messages only grow (each new message by someone else adds one, read off
-- last_message_seq), so a send touches no member's entry. What can lower many members' counts
-- at once (a message deleted by its author or an admin, or blanked by retention) bumps this
-- version in the same transaction; a cached count computed under an older version is
-- recomputed on its next read.
ALTER TABLE conversations ADD COLUMN unread_version bigint NOT NULL DEFAULT 0;

-- How far delivery (in-app notifications of offline members) has gone in each conversation:
-- a delivery job handles every message after this, up to the latest, in one transaction that
-- moves it, so a burst of messages into a big room costs one job's work, and a job whose
-- message is already covered (re-run, overtaken, handed over twice) does nothing. Its own table,
-- not a column of conversations: sends lock the conversation row, and delivery must not wait
-- for them nor they for it. Conversations that exist now start as delivered up to their latest
-- message (deploy with the delivery queue drained).
CREATE TABLE delivery_progress (
  conversation_id uuid PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
  delivered_through_seq bigint NOT NULL
);
INSERT INTO delivery_progress (conversation_id, delivered_through_seq)
  SELECT id, last_message_seq FROM conversations WHERE last_message_seq > 0;

-- Down Migration
DROP TABLE delivery_progress;
ALTER TABLE conversations DROP COLUMN unread_version;
