import type { Queryable } from '../postgres/transaction.js';

/** SQL of calls and their participants (migrations/0011_calls.sql). */

export interface CallRow {
  id: string;
  conversationId: string;
  startedBy: string;
  startedAt: Date;
  endedAt: Date | null;
  endedReason: 'empty' | 'ended_by_admin' | 'room_finished' | null;
  keyIndex: number;
}

const CALL_COLUMNS = `id, conversation_id AS "conversationId", started_by AS "startedBy",
  started_at AS "startedAt", ended_at AS "endedAt", ended_reason AS "endedReason",
  key_index AS "keyIndex"`;

export const callRepository = {
  /** Inserts the conversation's live call unless one exists: undefined when one did. */
  async insertLive(db: Queryable, conversationId: string, startedBy: string) {
    const result = await db.query<CallRow>(
      `INSERT INTO calls (conversation_id, started_by) VALUES ($1, $2)
       ON CONFLICT (conversation_id) WHERE ended_at IS NULL DO NOTHING
       RETURNING ${CALL_COLUMNS}`,
      [conversationId, startedBy],
    );
    return result.rows[0];
  },

  async live(db: Queryable, conversationId: string, forUpdate = false) {
    const result = await db.query<CallRow>(
      `SELECT ${CALL_COLUMNS} FROM calls WHERE conversation_id = $1 AND ended_at IS NULL
       ${forUpdate ? 'FOR UPDATE' : ''}`,
      [conversationId],
    );
    return result.rows[0];
  },

  async byId(db: Queryable, callId: string, forUpdate = false) {
    const result = await db.query<CallRow>(
      `SELECT ${CALL_COLUMNS} FROM calls WHERE id = $1 ${forUpdate ? 'FOR UPDATE' : ''}`,
      [callId],
    );
    return result.rows[0];
  },

  async allLive(db: Queryable) {
    const result = await db.query<CallRow>(
      `SELECT ${CALL_COLUMNS} FROM calls WHERE ended_at IS NULL ORDER BY started_at`,
    );
    return result.rows;
  },

  async end(db: Queryable, callId: string, reason: NonNullable<CallRow['endedReason']>) {
    const result = await db.query<{ endedAt: Date }>(
      `UPDATE calls SET ended_at = now(), ended_reason = $2 WHERE id = $1 AND ended_at IS NULL
       RETURNING ended_at AS "endedAt"`,
      [callId, reason],
    );
    if (result.rows[0] === undefined) return undefined;
    await db.query(
      'UPDATE call_participants SET left_at = now() WHERE call_id = $1 AND left_at IS NULL',
      [callId],
    );
    return result.rows[0].endedAt;
  },

  async setKeyIndex(db: Queryable, callId: string, keyIndex: number) {
    await db.query('UPDATE calls SET key_index = $2 WHERE id = $1', [callId, keyIndex]);
  },

  /** Records a join unless the user is in the call already: the row, or undefined. */
  async join(db: Queryable, callId: string, userId: string, at: Date) {
    const result = await db.query<{ joinedAt: Date }>(
      // A join older than a recorded leave of the same person is a late webhook of an
      // earlier stay (LiveKit does not order its webhooks): ignored.
      `INSERT INTO call_participants (call_id, user_id, joined_at)
       SELECT $1, $2, $3::timestamptz
        WHERE NOT EXISTS (SELECT 1 FROM call_participants
                           WHERE call_id = $1 AND user_id = $2 AND left_at > $3::timestamptz)
       ON CONFLICT (call_id, user_id) WHERE left_at IS NULL DO NOTHING
       RETURNING joined_at AS "joinedAt"`,
      [callId, userId, at],
    );
    return result.rows[0];
  },

  /** Records a leave of a present participant: false when they were not present. */
  async leave(db: Queryable, callId: string, userId: string, at: Date) {
    const result = await db.query(
      // A leave older than the stay it would close belongs to an earlier stay: ignored.
      // LiveKit's event times are whole seconds, so a stay that began in the same second is
      // closed (at its own start).
      `UPDATE call_participants SET left_at = GREATEST(joined_at, $3::timestamptz)
       WHERE call_id = $1 AND user_id = $2 AND left_at IS NULL
         AND date_trunc('second', joined_at) <= $3::timestamptz`,
      [callId, userId, at],
    );
    return (result.rowCount ?? 0) > 0;
  },

  async present(db: Queryable, callId: string) {
    const result = await db.query<{ userId: string; joinedAt: Date }>(
      `SELECT user_id AS "userId", joined_at AS "joinedAt" FROM call_participants
       WHERE call_id = $1 AND left_at IS NULL ORDER BY joined_at`,
      [callId],
    );
    return result.rows;
  },

  async memberIds(db: Queryable, conversationId: string) {
    const result = await db.query<{ userId: string }>(
      'SELECT user_id AS "userId" FROM conversation_members WHERE conversation_id = $1',
      [conversationId],
    );
    return result.rows.map((row) => row.userId);
  },

  async memberRole(db: Queryable, conversationId: string, userId: string) {
    const result = await db.query<{ role: string }>(
      'SELECT role FROM conversation_members WHERE conversation_id = $1 AND user_id = $2',
      [conversationId, userId],
    );
    return result.rows[0]?.role;
  },

  async callSettings(db: Queryable, conversationId: string) {
    const result = await db.query<{ callPublishers: 'members' | 'admins' }>(
      'SELECT call_publishers AS "callPublishers" FROM conversations WHERE id = $1',
      [conversationId],
    );
    return result.rows[0]?.callPublishers ?? 'members';
  },

  async setCallSettings(db: Queryable, conversationId: string, publishers: 'members' | 'admins') {
    await db.query('UPDATE conversations SET call_publishers = $2 WHERE id = $1', [
      conversationId,
      publishers,
    ]);
  },

  async displayName(db: Queryable, userId: string) {
    const result = await db.query<{ displayName: string }>(
      'SELECT display_name AS "displayName" FROM users WHERE id = $1',
      [userId],
    );
    return result.rows[0]?.displayName ?? userId;
  },

  /** False when the event id was applied before. */
  async firstDelivery(db: Queryable, eventId: string, event: string) {
    const result = await db.query(
      'INSERT INTO livekit_webhook_events (id, event) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [eventId, event],
    );
    return (result.rowCount ?? 0) > 0;
  },

  /** The live calls of `userId`'s conversations, with who is in each. */
  async liveForMember(db: Queryable, userId: string) {
    const result = await db.query<{
      id: string;
      conversationId: string;
      startedAt: Date;
      participantIds: string[];
    }>(
      `SELECT c.id, c.conversation_id AS "conversationId", c.started_at AS "startedAt",
              coalesce(array_agg(p.user_id ORDER BY p.joined_at)
                         FILTER (WHERE p.user_id IS NOT NULL), '{}') AS "participantIds"
         FROM conversation_members m
         JOIN calls c ON c.conversation_id = m.conversation_id AND c.ended_at IS NULL
         LEFT JOIN call_participants p ON p.call_id = c.id AND p.left_at IS NULL
        WHERE m.user_id = $1
        GROUP BY c.id
        ORDER BY c.started_at DESC`,
      [userId],
    );
    return result.rows;
  },

  /** The calls `userId` was in, newest first, with their own time in each. */
  async history(db: Queryable, userId: string, limit: number) {
    const result = await db.query<{
      id: string;
      conversationId: string;
      startedAt: Date;
      endedAt: Date | null;
      endedReason: string | null;
      firstJoinedAt: Date;
      lastLeftAt: Date | null;
      secondsInCall: number;
    }>(
      `SELECT c.id, c.conversation_id AS "conversationId", c.started_at AS "startedAt",
              c.ended_at AS "endedAt", c.ended_reason AS "endedReason",
              min(p.joined_at) AS "firstJoinedAt",
              CASE WHEN bool_or(p.left_at IS NULL) THEN NULL ELSE max(p.left_at) END AS "lastLeftAt",
              floor(sum(extract(epoch FROM coalesce(p.left_at, now()) - p.joined_at)))::int
                AS "secondsInCall"
         FROM call_participants p JOIN calls c ON c.id = p.call_id
        WHERE p.user_id = $1
        GROUP BY c.id
        ORDER BY c.started_at DESC
        LIMIT $2`,
      [userId, limit],
    );
    return result.rows;
  },
};
