-- Up Migration

-- Accounts, sessions and API keys. PostgreSQL is the source of truth for all three: the Redis
-- copies (session and API-key validation, profiles) are rebuilt from these tables on a miss, so a
-- FLUSHALL loses nothing.

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Stored lower-case (the application normalises it); the CHECK keeps every writer honest,
  -- so the plain unique constraint is case-insensitive uniqueness without the citext extension.
  username text NOT NULL
    CONSTRAINT users_username_format CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,31}$'),
  -- Kept as typed (the local part is case-sensitive in theory); unique case-insensitively.
  email text NOT NULL
    CONSTRAINT users_email_length CHECK (char_length(email) BETWEEN 3 AND 254),
  display_name text NOT NULL
    CONSTRAINT users_display_name_length CHECK (char_length(display_name) BETWEEN 1 AND 80),
  bio text NOT NULL DEFAULT ''
    CONSTRAINT users_bio_length CHECK (char_length(bio) <= 500),
  role text NOT NULL CONSTRAINT users_role CHECK (role IN ('admin', 'teacher', 'student')),
  -- An argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash): parameters travel
  -- with each hash, so raising them later needs no migration.
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- Deactivated users cannot log in and their sessions are revoked; the row stays so that
  -- their messages keep an author.
  deactivated_at timestamptz
);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- SHA-256 of the 256-bit random token the client holds. The token itself is never stored:
  -- a leaked table or backup cannot be replayed. A fast hash is enough for 256 random bits
  -- (no dictionary to attack), and it lets a lookup use this unique index.
  token_hash bytea NOT NULL CONSTRAINT sessions_token_hash_length CHECK (octet_length(token_hash) = 32),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  -- Refreshed when the session is loaded from PostgreSQL (a cache miss), at most once per
  -- policy.accounts.sessions.lastSeenResolutionMs: a warm request never writes here.
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  user_agent text CONSTRAINT sessions_user_agent_length CHECK (char_length(user_agent) <= 256),
  ip inet,
  CONSTRAINT sessions_expiry_after_creation CHECK (expires_at > created_at)
);
CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
-- "My active sessions" and "revoke all of a user's sessions".
CREATE INDEX sessions_user_active ON sessions (user_id, created_at) WHERE revoked_at IS NULL;

CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 80),
  -- SHA-256 of the whole key, as for session tokens; shown to its creator once, never again.
  key_hash bytea NOT NULL CONSTRAINT api_keys_key_hash_length CHECK (octet_length(key_hash) = 32),
  -- The key's first characters, so people can tell their keys apart in a list and find a
  -- leaked one ("qk_Ab12Cd34").
  prefix text NOT NULL,
  -- The account the key acts as: an integration is an account (a bot user) with a role, so
  -- every authorization rule applies to it unchanged; a deactivated account's keys stop working.
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  last_used_at timestamptz
);
CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_user_active ON api_keys (user_id) WHERE revoked_at IS NULL;

-- Down Migration
DROP TABLE api_keys;
DROP TABLE sessions;
DROP TABLE users;
