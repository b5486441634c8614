-- Up Migration

-- Polls in conversations. PostgreSQL is the source of truth: one row per vote, at most one per user
-- and poll. The results a client sees come from a Redis hash per poll
-- (lib/polls/poll-results.store.ts) that carries the poll's version beside its counts; the version
-- below is what lets Redis prove its counts are the ones PostgreSQL would compute, and a FLUSHALL
-- only costs one GROUP BY per poll.

CREATE TABLE polls (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  created_by uuid NOT NULL REFERENCES users (id),
  question text NOT NULL
    CONSTRAINT polls_question_length CHECK (char_length(question) BETWEEN 1 AND 300),
  created_at timestamptz NOT NULL DEFAULT now(),
  -- NULL while open; a closed poll refuses votes and keeps its results.
  closed_at timestamptz,
  -- Bumped by every transaction that changes a vote (cast, change, retract), under this row's
  -- lock: versions are commit order, and a Redis delta is applied only on top of the version
  -- just before it, so the cached counts are always exactly those of some committed version.
  version bigint NOT NULL DEFAULT 0 CONSTRAINT polls_version CHECK (version >= 0)
);
-- A conversation's polls, newest first (the list and its cursor).
CREATE INDEX polls_conversation_newest ON polls (conversation_id, created_at DESC, id DESC);

CREATE TABLE poll_options (
  -- Its own id, so that an option of another poll is refused by the foreign key below rather
  -- than read as "the option at the same place here".
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  poll_id uuid NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
  position smallint NOT NULL CONSTRAINT poll_options_position CHECK (position BETWEEN 1 AND 10),
  text text NOT NULL CONSTRAINT poll_options_text_length CHECK (char_length(text) BETWEEN 1 AND 100),
  CONSTRAINT poll_options_position_key UNIQUE (poll_id, position),
  -- The target of poll_votes' composite foreign key.
  CONSTRAINT poll_options_poll_option_key UNIQUE (poll_id, id)
);

CREATE TABLE poll_votes (
  poll_id uuid NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
  -- Not cascaded: a vote disappears only through a retract, which bumps the poll's version
  -- (users are deactivated, never deleted).
  user_id uuid NOT NULL REFERENCES users (id),
  option_id uuid NOT NULL,
  voted_at timestamptz NOT NULL DEFAULT now(),
  -- One vote per user and poll; changing it is an UPDATE of this row.
  PRIMARY KEY (poll_id, user_id),
  CONSTRAINT poll_votes_option FOREIGN KEY (poll_id, option_id)
    REFERENCES poll_options (poll_id, id) ON DELETE CASCADE
);
-- The GROUP BY that rebuilds a poll's counts reads only this index.
CREATE INDEX poll_votes_poll_option ON poll_votes (poll_id, option_id);

-- Down Migration
DROP TABLE poll_votes;
DROP TABLE poll_options;
DROP TABLE polls;
