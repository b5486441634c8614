import type { PoolClient } from 'pg';
import { firstRowOrNull, type Queryable, returnedRow } from '../postgres/transaction.js';
import type { Poll } from './poll.types.js';

/** A poll's row with its options and one viewer's vote, without counts (those come from the
 *  result hash, or from `counts` on a miss). */
export interface PollRecord extends Omit<Poll, 'options' | 'totalVotes'> {
  /** polls.version in the same snapshot as the rest of the record. */
  version: number;
  options: Array<{ id: string; text: string }>;
  /** created_at in whole microseconds since the epoch, exact: the list's cursor. */
  createdMicros: string;
}

/** The counts of one poll and the version they belong to, read in one snapshot. */
export interface PollCounts {
  version: number;
  votes: Map<string, number>;
}

/** What a vote transaction changed: the version it committed and the option moved from/to. */
export interface VoteChange {
  version: number;
  from: string | null;
  to: string | null;
}

interface PollRow {
  id: string;
  conversation_id: string;
  created_by: string;
  question: string;
  created_at: Date;
  closed_at: Date | null;
  version: string;
  options: Array<{ id: string; text: string }>;
  my_vote: string | null;
  created_micros: string;
}

function toRecord(row: PollRow): PollRecord {
  return {
    id: row.id,
    conversationId: row.conversation_id,
    createdBy: row.created_by,
    question: row.question,
    createdAt: row.created_at.toISOString(),
    closedAt: row.closed_at?.toISOString() ?? null,
    version: Number(row.version),
    options: row.options,
    myVote: row.my_vote,
    createdMicros: row.created_micros,
  };
}

// $1 is always the viewer. One statement, so the version, the options and the viewer's vote
// come from one snapshot.
const recordSelect = `
  SELECT p.id, p.conversation_id, p.created_by, p.question, p.created_at, p.closed_at, p.version,
    (SELECT json_agg(json_build_object('id', o.id, 'text', o.text) ORDER BY o.position)
       FROM poll_options o WHERE o.poll_id = p.id) AS options,
    (SELECT v.option_id FROM poll_votes v WHERE v.poll_id = p.id AND v.user_id = $1) AS my_vote,
    (extract(epoch FROM p.created_at) * 1000000)::bigint::text AS created_micros
  FROM polls p`;

/** Polls, their options and votes (migrations/0005_polls.sql). */
export const pollRepository = {
  /** Inserts the poll and its options (positions 1, 2, … in the given order); returns its id. */
  async create(
    tx: PoolClient,
    poll: {
      conversationId: string;
      createdBy: string;
      question: string;
      options: readonly string[];
    },
  ): Promise<string> {
    const inserted = returnedRow(
      await tx.query<{ id: string }>(
        `INSERT INTO polls (conversation_id, created_by, question) VALUES ($1, $2, $3)
         RETURNING id`,
        [poll.conversationId, poll.createdBy, poll.question],
      ),
    );
    await tx.query(
      `INSERT INTO poll_options (poll_id, position, text)
       SELECT $1, position, text FROM unnest($2::text[]) WITH ORDINALITY AS given (text, position)`,
      [inserted.id, poll.options],
    );
    return inserted.id;
  },

  async find(
    db: Queryable,
    viewerId: string,
    conversationId: string,
    pollId: string,
  ): Promise<PollRecord | null> {
    const found = await db.query<PollRow>(
      `${recordSelect} WHERE p.conversation_id = $2 AND p.id = $3`,
      [viewerId, conversationId, pollId],
    );
    return firstRowOrNull(found, toRecord);
  },

  /** A conversation's polls, newest first, strictly older than `before` when given. */
  async page(
    db: Queryable,
    viewerId: string,
    conversationId: string,
    limit: number,
    before?: { micros: string; id: string },
  ): Promise<PollRecord[]> {
    const found = await db.query<PollRow>(
      `${recordSelect}
       WHERE p.conversation_id = $2
         AND ($3::bigint IS NULL
           OR (p.created_at, p.id) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::uuid))
       ORDER BY p.created_at DESC, p.id DESC
       LIMIT $5`,
      [viewerId, conversationId, before?.micros ?? null, before?.id ?? null, limit],
    );
    return found.rows.map(toRecord);
  },

  /** Every option's count and the version they belong to, in one statement (one snapshot).
   *  Null when the poll does not exist. */
  async counts(db: Queryable, pollId: string): Promise<PollCounts | null> {
    const found = await db.query<{ version: string; option_id: string; votes: number }>(
      `SELECT p.version, o.id AS option_id, count(v.user_id)::int AS votes
       FROM polls p
       JOIN poll_options o ON o.poll_id = p.id
       LEFT JOIN poll_votes v ON v.poll_id = o.poll_id AND v.option_id = o.id
       WHERE p.id = $1
       GROUP BY p.version, o.id`,
      [pollId],
    );
    const first = found.rows[0];
    if (!first) return null;
    return {
      version: Number(first.version),
      votes: new Map(found.rows.map((row) => [row.option_id, row.votes])),
    };
  },

  /**
   * Locks the poll's row for a vote (votes on one poll commit one at a time, so versions are
   * commit order). Must be the first statement of the vote transaction: everything read after
   * it, in later statements, sees every vote committed before the lock was granted.
   */
  async lockForVote(
    tx: PoolClient,
    conversationId: string,
    pollId: string,
  ): Promise<{ closed: boolean } | null> {
    const found = await tx.query<{ closed_at: Date | null }>(
      'SELECT closed_at FROM polls WHERE conversation_id = $1 AND id = $2 FOR UPDATE',
      [conversationId, pollId],
    );
    const row = found.rows[0];
    return row ? { closed: row.closed_at !== null } : null;
  },

  /** Under the poll's lock: whether `optionId` is one of its options, and the voter's vote. */
  async ballot(
    tx: PoolClient,
    pollId: string,
    userId: string,
    optionId: string | null,
  ): Promise<{ optionExists: boolean; current: string | null }> {
    const found = await tx.query<{ option_exists: boolean; current: string | null }>(
      `SELECT
         EXISTS (SELECT 1 FROM poll_options WHERE poll_id = $1 AND id = $3) AS option_exists,
         (SELECT option_id FROM poll_votes WHERE poll_id = $1 AND user_id = $2) AS current`,
      [pollId, userId, optionId],
    );
    const row = returnedRow(found);
    return { optionExists: row.option_exists, current: row.current };
  },

  /** Under the poll's lock: records the vote (a first vote or a change) and bumps the version,
   *  in one statement. Returns the new version. */
  async castVote(tx: PoolClient, pollId: string, userId: string, optionId: string) {
    const bumped = await tx.query<{ version: string }>(
      `WITH cast_vote AS (
         INSERT INTO poll_votes (poll_id, user_id, option_id) VALUES ($1, $2, $3)
         ON CONFLICT (poll_id, user_id)
           DO UPDATE SET option_id = EXCLUDED.option_id, voted_at = now()
       )
       UPDATE polls SET version = version + 1 WHERE id = $1 RETURNING version`,
      [pollId, userId, optionId],
    );
    return Number(returnedRow(bumped).version);
  },

  /** Under the poll's lock: removes the voter's vote and bumps the version. */
  async retractVote(tx: PoolClient, pollId: string, userId: string) {
    const bumped = await tx.query<{ version: string }>(
      `WITH retracted AS (DELETE FROM poll_votes WHERE poll_id = $1 AND user_id = $2)
       UPDATE polls SET version = version + 1 WHERE id = $1 RETURNING version`,
      [pollId, userId],
    );
    return Number(returnedRow(bumped).version);
  },

  /** Closes the poll if open; an already closed poll keeps its first closing time. */
  async close(db: Queryable, pollId: string): Promise<void> {
    await db.query('UPDATE polls SET closed_at = now() WHERE id = $1 AND closed_at IS NULL', [
      pollId,
    ]);
  },
};
