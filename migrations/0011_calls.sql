-- Up Migration

-- Voice and video calls (LiveKit). PostgreSQL holds the history and everything the live state in
-- Redis is rebuilt from (lib/calls): which call is live in which conversation, who is in it and
-- the current index of its media key. The media keys themselves are never stored here: they
-- live only in Redis, with a TTL (docs/calls.md).

-- "Only admins publish" (a lecture): members then join as listeners.
ALTER TABLE conversations ADD COLUMN call_publishers text NOT NULL DEFAULT 'members'
  CONSTRAINT conversations_call_publishers CHECK (call_publishers IN ('members', 'admins'));

CREATE TABLE calls (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  started_by uuid NOT NULL REFERENCES users (id),
  started_at timestamptz NOT NULL DEFAULT now(),
  -- NULL while live.
  ended_at timestamptz,
  ended_reason text
    CONSTRAINT calls_ended_reason CHECK (ended_reason IN ('empty', 'ended_by_admin', 'room_finished')),
  -- The slot of LiveKit's key ring (0..15) the current media key occupies; not secret, and what
  -- a rebuilt Redis continues from so clients never see an index go back.
  key_index smallint NOT NULL DEFAULT 0 CONSTRAINT calls_key_index CHECK (key_index BETWEEN 0 AND 15),
  CONSTRAINT calls_ended CHECK ((ended_at IS NULL) = (ended_reason IS NULL))
);
-- One live call per conversation, also when twenty members start one at once.
CREATE UNIQUE INDEX calls_live_per_conversation ON calls (conversation_id) WHERE ended_at IS NULL;
CREATE INDEX calls_conversation_started ON calls (conversation_id, started_at DESC);

-- One row per stay in a call: a participant who drops and rejoins has two.
CREATE TABLE call_participants (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  call_id uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  joined_at timestamptz NOT NULL,
  -- NULL while in the call.
  left_at timestamptz,
  CONSTRAINT call_participants_order CHECK (left_at IS NULL OR left_at >= joined_at)
);
CREATE UNIQUE INDEX call_participants_present ON call_participants (call_id, user_id)
  WHERE left_at IS NULL;
CREATE INDEX call_participants_user ON call_participants (user_id, joined_at DESC);

-- LiveKit webhook events already applied, by LiveKit's event id: a redelivery changes nothing.
-- Pruned with the calls' history by age.
CREATE TABLE livekit_webhook_events (
  id text PRIMARY KEY,
  event text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

-- Call changes reach real-time clients and integrations through the outbox like messages.
ALTER TABLE outbox DROP CONSTRAINT outbox_type;
ALTER TABLE outbox ADD CONSTRAINT outbox_type CHECK (
  type IN ('message.created', 'message.updated', 'message.deleted', 'receipt.advanced',
           'member.added', 'member.removed',
           'call.started', 'call.participant-joined', 'call.participant-left', 'call.ended')
);

-- Down Migration
DELETE FROM outbox WHERE type LIKE 'call.%';
ALTER TABLE outbox DROP CONSTRAINT outbox_type;
ALTER TABLE outbox ADD CONSTRAINT outbox_type CHECK (
  type IN ('message.created', 'message.updated', 'message.deleted', 'receipt.advanced',
           'member.added', 'member.removed')
);
DROP TABLE livekit_webhook_events;
DROP TABLE call_participants;
DROP TABLE calls;
ALTER TABLE conversations DROP COLUMN call_publishers;
