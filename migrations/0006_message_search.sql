-- Up Migration

-- Full-text search over messages. PostgreSQL holds the index: a generated tsvector column kept in
-- step with the body by PostgreSQL itself (insert, edit, soft delete), and a GIN index over it. The
-- search results cache (lib/search/) only ever holds copies of what these queries answer.
--
-- Text search configuration: 'simple', on purpose. A school writes in many languages, often
-- several in one conversation, and no language is known per message: a language configuration
-- ('english', 'french', ...) would stem and drop stop words of that language only, and mangle
-- the others ('english' turns the French "les" into nothing and "bases" into "base"). 'simple'
-- only splits words and lower-cases them, the same for every language, and drops nothing, so a
-- query of common words still finds them. The price: no stemming ("run" does not find
-- "running") and no accent folding ("eleve" does not find "élève"); clients can search for
-- both forms with OR.
--
-- Two normalisations are made here, once, and used by both the stored vector and every query,
-- so the two can never disagree:
-- - Lower-casing through ICU ("und-x-icu"), not the database's locale: under LC_CTYPE C (the
--   tests' clusters, some installations) PostgreSQL lower-cases ASCII only, so "Москва" would
--   not be found by "москва". ICU case mapping is the same on every installation.
-- - &, < and > escaped as HTML entities. PostgreSQL's default parser reads "<...>" as an HTML
--   tag and skips it: "if a<b and c>d" would lose "b and c". Escaped, they are entities, which
--   are skipped alone. It also makes the highlighted excerpt (ts_headline over the same escaped
--   text) safe to insert as HTML: only the <mark> tags it adds are markup.

-- The text as search reads it (see above). STRICT: a deleted message (body NULL) has no text.
CREATE FUNCTION message_search_text(body text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN replace(replace(replace(body, '&', '&amp;'), '<', '&lt;'), '>', '&gt;');

CREATE FUNCTION message_search_document(body text) RETURNS tsvector
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN to_tsvector('simple'::regconfig, lower(message_search_text(body) COLLATE "und-x-icu"));

-- websearch_to_tsquery: what people type into a search box ("quoted phrases", OR, -excluded)
-- never raises a syntax error. A query of punctuation only has no lexemes: it matches nothing.
CREATE FUNCTION message_search_query(query text) RETURNS tsquery
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN websearch_to_tsquery('simple'::regconfig,
    lower(message_search_text(query) COLLATE "und-x-icu"));

-- Generated, so no code path can forget it: an edit rewrites it, a soft delete (body NULL,
-- migrations/0003) makes it NULL, which matches no query. Searches also say deleted_at IS NULL.
ALTER TABLE messages
  ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (message_search_document(body)) STORED;

-- GIN: finds the messages holding every lexeme of a query without reading the others. The
-- search narrows the matches to the caller's conversations and orders them by
-- (created_at, id); a user's matches are few enough to sort.
CREATE INDEX messages_search_vector ON messages USING gin (search_vector);

-- Down Migration
DROP INDEX messages_search_vector;
ALTER TABLE messages DROP COLUMN search_vector;
DROP FUNCTION message_search_query(text);
DROP FUNCTION message_search_document(text);
DROP FUNCTION message_search_text(text);
