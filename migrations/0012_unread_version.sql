-- Up Migration

-- Unread counts are derived rather than kept per member: a member's cached count holds while
-- the conversation's messages only grow (each new message by someone else adds one, read off
-- last_message_seq), so a send touches no member's entry. What can lower many members' counts
-- at once (a message deleted by its author or an admin, or blanked by retention) bumps this
-- version in the same transaction; a cached count computed under an older version is
-- recomputed on its next read.
ALTER TABLE conversations ADD COLUMN unread_version bigint NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE conversations DROP COLUMN unread_version;
