-- Up Migration

-- Read receipts. Each member's place in a conversation is a sequence number on their membership
-- row: messages are numbered without gaps under the conversation lock, so "read up to seq N" says
-- exactly which messages are read, and the unread count is a range count over the (conversation_id,
-- seq) index. PostgreSQL is the source of truth; the Redis unread counters (cache namespace
-- `unread-counts`) are recomputed from these columns.
ALTER TABLE conversation_members
  -- 0: nothing read yet. Only ever raised (UPDATE … WHERE last_read_seq < new), so a late or
  -- retried mark-read from another device never moves a receipt backwards.
  ADD COLUMN last_read_seq bigint NOT NULL DEFAULT 0
    CONSTRAINT conversation_members_last_read_seq CHECK (last_read_seq >= 0),
  -- When the receipt last moved; NULL while nothing has been read.
  ADD COLUMN last_read_at timestamptz;

-- Down Migration
ALTER TABLE conversation_members DROP COLUMN last_read_at, DROP COLUMN last_read_seq;
