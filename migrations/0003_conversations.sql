-- Up Migration

-- Conversations and messages. PostgreSQL is the source of truth; the Redis copies (conversation
-- metadata, membership for authorization, the latest 100 messages of each conversation) are rebuilt
-- from these tables, so a FLUSHALL loses nothing.

CREATE TABLE conversations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind text NOT NULL CONSTRAINT conversations_kind CHECK (kind IN ('direct', 'group')),
  -- Groups have a title; a direct conversation is named after the other person by clients.
  title text CONSTRAINT conversations_title_length CHECK (char_length(title) BETWEEN 1 AND 120),
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- The two people of a direct conversation, smaller id first: the unique index below makes
  -- "one direct conversation per pair" a database fact, so two concurrent creates for the same
  -- pair cannot both succeed (the loser reads the winner's row).
  direct_low uuid REFERENCES users (id),
  direct_high uuid REFERENCES users (id),
  -- Sequence of the latest message. Sending locks this row to take the next number, so within
  -- a conversation message order is commit order: a reader paging backwards can never have a
  -- message appear behind its cursor (created_at from concurrent transactions could).
  last_message_seq bigint NOT NULL DEFAULT 0,
  last_message_at timestamptz,
  CONSTRAINT conversations_direct_pair CHECK (
    (kind = 'direct' AND direct_low IS NOT NULL AND direct_high IS NOT NULL
      AND direct_low < direct_high AND title IS NULL)
    OR (kind = 'group' AND direct_low IS NULL AND direct_high IS NULL AND title IS NOT NULL)
  )
);
CREATE UNIQUE INDEX conversations_direct_pair_key ON conversations (direct_low, direct_high)
  WHERE kind = 'direct';

CREATE TABLE conversation_members (
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role text NOT NULL CONSTRAINT conversation_members_role CHECK (role IN ('owner', 'admin', 'member')),
  joined_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, user_id)
);
-- "My conversations".
CREATE INDEX conversation_members_user ON conversation_members (user_id);

-- Per-user delete ("delete for me"): the conversation is hidden from this user until a
-- message newer than the deletion arrives, and then they see only messages after it.
CREATE TABLE conversation_deletions (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  deleted_at timestamptz NOT NULL DEFAULT now(),
  -- The conversation's last_message_seq when it was deleted: what the user no longer sees.
  -- Kept beside deleted_at because the sequence, not the clock, orders messages.
  hidden_through_seq bigint NOT NULL,
  PRIMARY KEY (user_id, conversation_id)
);

CREATE TABLE messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  sender_id uuid NOT NULL REFERENCES users (id),
  -- NULL once deleted: a soft-deleted message keeps its place in history, not its words.
  body text CONSTRAINT messages_body_length CHECK (char_length(body) BETWEEN 1 AND 4000),
  -- Chosen by the client per send; a retry with the same key returns the stored message.
  idempotency_key text NOT NULL
    CONSTRAINT messages_idempotency_key_length CHECK (char_length(idempotency_key) BETWEEN 1 AND 128),
  created_at timestamptz NOT NULL DEFAULT now(),
  edited_at timestamptz,
  deleted_at timestamptz,
  CONSTRAINT messages_deleted_has_no_body CHECK ((deleted_at IS NULL) = (body IS NOT NULL))
);
CREATE UNIQUE INDEX messages_conversation_seq_key ON messages (conversation_id, seq);
CREATE UNIQUE INDEX messages_idempotency_key ON messages (sender_id, idempotency_key);

-- Down Migration
DROP TABLE messages;
DROP TABLE conversation_deletions;
DROP TABLE conversation_members;
DROP TABLE conversations;
