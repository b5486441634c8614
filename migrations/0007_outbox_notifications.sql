-- Up Migration

-- The transactional outbox. Every write that must reach real-time clients, caches or integrations
-- inserts one row here in the same transaction as the write itself, so the row exists exactly when
-- the write committed. After the commit the writing service tries the fast path at once (publish
-- through Redis, cache updates) and sets published_at when the publish reached Redis; the worker's
-- relay (lib/outbox/outbox-relay.ts) hands every row to each consumer and re-does the fast path for
-- rows still unpublished.
--
-- The gap problem, and why rows carry a transaction id. A bigserial id is taken when the row is
-- inserted, not when its transaction commits: transaction A takes id 7, transaction B takes
-- id 8 and commits first. A reader that handed over 8 and remembered "done up to 8" would never
-- look at 7 again once A commits: a lost event. So a reader only reads rows whose transaction
-- is known to have finished: txid < pg_snapshot_xmin(pg_current_snapshot()), the oldest
-- transaction still running when the reader looks. Every row below that bound is committed (or
-- was rolled back and is not there); no transaction below it can add a row later. Rows are
-- handed over in (txid, id) order and positions are remembered as (txid, id), so the order is a
-- total order that only grows at its end. Read-only transactions take no transaction id and do
-- not hold the bound back; a long write transaction delays relaying (never loses it).
CREATE TABLE outbox (
  id bigserial PRIMARY KEY,
  type text NOT NULL CONSTRAINT outbox_type CHECK (
    type IN ('message.created', 'message.updated', 'message.deleted', 'receipt.advanced',
             'member.added', 'member.removed')
  ),
  conversation_id uuid NOT NULL,
  payload jsonb NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  -- NULL: the real-time fast path has not (yet) reached Redis; the relay's `realtime` consumer
  -- re-does it once the row is older than a short grace.
  published_at timestamptz,
  txid xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX outbox_relay_order ON outbox (txid, id);
-- Outbox lag for the metrics: the oldest row the fast path has not published.
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- Where each consumer of the outbox stands: the last row handed over, in (txid, id) order.
-- A consumer that is not here starts from the beginning.
CREATE TABLE outbox_consumers (
  name text PRIMARY KEY,
  last_txid xid8 NOT NULL DEFAULT '0',
  last_id bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Wakes the relay (LISTEN quad_outbox) when a transaction that wrote rows commits: NOTIFY is
-- delivered at commit and not at all on rollback, and one per statement is plenty (PostgreSQL
-- folds identical notifications of one transaction into one). The relay also polls, so a
-- notification lost while it was reconnecting costs a poll interval, not an event.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('quad_outbox', '');
  RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- In-app notifications: a member who was offline when messages arrived gets
-- one notification per conversation while it is unread, however many messages follow (the
-- batching). It covers the message range [first_seq, last_seq] and unread_count counts the
-- messages of that range that others sent, so delivery jobs may run in any order and any
-- number of times: a message already inside the range changes nothing (lib/notifications).
CREATE TABLE notifications (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  unread_count integer NOT NULL CONSTRAINT notifications_unread_count CHECK (unread_count >= 0),
  first_message_id uuid NOT NULL,
  first_seq bigint NOT NULL,
  last_message_id uuid NOT NULL,
  last_seq bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- NULL while unread. Set by reading the notification, or the conversation past last_seq.
  read_at timestamptz,
  CONSTRAINT notifications_range CHECK (first_seq <= last_seq)
);
-- One open notification per member and conversation: concurrent delivery jobs meet here
-- (INSERT ... ON CONFLICT) instead of creating two.
CREATE UNIQUE INDEX notifications_open_key ON notifications (user_id, conversation_id)
  WHERE read_at IS NULL;
-- A user's list, newest activity first.
CREATE INDEX notifications_user_recent ON notifications (user_id, updated_at DESC, id DESC);

-- Down Migration
DROP TABLE notifications;
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
DROP TABLE outbox_consumers;
DROP TABLE outbox;
