import { type Queryable, returnedRow } from '../postgres/transaction.js';
import type {
  Conversation,
  ConversationKind,
  ConversationMember,
  MemberRole,
  Membership,
} from './conversation.types.js';

interface ConversationRow {
  id: string;
  kind: ConversationKind;
  title: string | null;
  created_by: string;
  created_at: Date;
}

interface MemberRow {
  conversation_id: string;
  user_id: string;
  role: MemberRole;
  joined_at: Date;
}

const conversationColumns = 'id, kind, title, created_by, created_at';

function toMember(row: MemberRow): ConversationMember {
  return { userId: row.user_id, role: row.role, joinedAt: row.joined_at.toISOString() };
}

function toConversation(row: ConversationRow, members: ConversationMember[]): Conversation {
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    members,
  };
}

/** Conversations, members and per-user deletions in PostgreSQL. */
export const conversationRepository = {
  /** Active users among `userIds` (deactivated accounts cannot be added). */
  async activeUsers(db: Queryable, userIds: readonly string[]): Promise<Set<string>> {
    const result = await db.query<{ id: string }>(
      'SELECT id FROM users WHERE id = ANY($1::uuid[]) AND deactivated_at IS NULL',
      [userIds],
    );
    return new Set(result.rows.map((row) => row.id));
  },

  /** Inserts the direct conversation of a pair, or finds the one that exists. ON CONFLICT on
   *  the partial unique index makes concurrent creates converge on one row. */
  async findOrCreateDirect(
    db: Queryable,
    creatorId: string,
    otherId: string,
  ): Promise<{ id: string; created: boolean }> {
    const [low, high] = creatorId < otherId ? [creatorId, otherId] : [otherId, creatorId];
    const inserted = await db.query<{ id: string }>(
      `INSERT INTO conversations (kind, created_by, direct_low, direct_high)
       VALUES ('direct', $1, $2, $3)
       ON CONFLICT (direct_low, direct_high) WHERE kind = 'direct' DO NOTHING
       RETURNING id`,
      [creatorId, low, high],
    );
    const id = inserted.rows[0]?.id;
    if (id !== undefined) {
      await db.query(
        `INSERT INTO conversation_members (conversation_id, user_id, role)
         VALUES ($1, $2, 'member'), ($1, $3, 'member')`,
        [id, low, high],
      );
      return { id, created: true };
    }
    // The winner's row is committed (ON CONFLICT waited for it), so this read sees it.
    const existing = await db.query<{ id: string }>(
      `SELECT id FROM conversations WHERE kind = 'direct' AND direct_low = $1 AND direct_high = $2`,
      [low, high],
    );
    const existingId = existing.rows[0]?.id;
    if (existingId === undefined) throw new Error('direct conversation vanished during create');
    return { id: existingId, created: false };
  },

  async createGroup(
    db: Queryable,
    creatorId: string,
    title: string,
    memberIds: readonly string[],
  ): Promise<string> {
    const inserted = await db.query<{ id: string }>(
      `INSERT INTO conversations (kind, title, created_by) VALUES ('group', $1, $2) RETURNING id`,
      [title, creatorId],
    );
    const { id } = returnedRow(inserted);
    await db.query(
      `INSERT INTO conversation_members (conversation_id, user_id, role)
       SELECT $1, member, CASE WHEN member = $2 THEN 'owner' ELSE 'member' END
       FROM unnest($3::uuid[]) AS member`,
      [id, creatorId, [...new Set([creatorId, ...memberIds])]],
    );
    return id;
  },

  async findById(db: Queryable, id: string): Promise<Conversation | null> {
    const found = await db.query<ConversationRow>(
      `SELECT ${conversationColumns} FROM conversations WHERE id = $1`,
      [id],
    );
    const row = found.rows[0];
    if (!row) return null;
    const members = await db.query<MemberRow>(
      `SELECT conversation_id, user_id, role, joined_at FROM conversation_members
       WHERE conversation_id = $1 ORDER BY joined_at, user_id`,
      [id],
    );
    return toConversation(row, members.rows.map(toMember));
  },

  async findMany(db: Queryable, ids: readonly string[]): Promise<Map<string, Conversation>> {
    const found = await db.query<ConversationRow>(
      `SELECT ${conversationColumns} FROM conversations WHERE id = ANY($1::uuid[])`,
      [ids],
    );
    const members = await db.query<MemberRow>(
      `SELECT conversation_id, user_id, role, joined_at FROM conversation_members
       WHERE conversation_id = ANY($1::uuid[]) ORDER BY joined_at, user_id`,
      [ids],
    );
    const byConversation = new Map<string, ConversationMember[]>();
    for (const row of members.rows) {
      const list = byConversation.get(row.conversation_id) ?? [];
      list.push(toMember(row));
      byConversation.set(row.conversation_id, list);
    }
    return new Map(
      found.rows.map((row) => [row.id, toConversation(row, byConversation.get(row.id) ?? [])]),
    );
  },

  /** The caller's role and what their per-user delete hid; null = not a member. */
  async membership(
    db: Queryable,
    conversationId: string,
    userId: string,
  ): Promise<Membership | null> {
    const found = await db.query<{ role: MemberRole; hidden_through_seq: string | null }>(
      `SELECT m.role, d.hidden_through_seq
       FROM conversation_members m
       LEFT JOIN conversation_deletions d
         ON d.conversation_id = m.conversation_id AND d.user_id = m.user_id
       WHERE m.conversation_id = $1 AND m.user_id = $2`,
      [conversationId, userId],
    );
    const row = found.rows[0];
    if (!row) return null;
    return { role: row.role, hiddenThroughSeq: Number(row.hidden_through_seq ?? 0) };
  },

  /** Ids of my conversations that I can see (not deleted by me, or with a newer message),
   *  most recently active first. */
  async visibleIdsOf(db: Queryable, userId: string): Promise<string[]> {
    const found = await db.query<{ id: string }>(
      `SELECT c.id
       FROM conversation_members m
       JOIN conversations c ON c.id = m.conversation_id
       LEFT JOIN conversation_deletions d ON d.conversation_id = c.id AND d.user_id = m.user_id
       WHERE m.user_id = $1
         AND (d.user_id IS NULL OR c.last_message_seq > d.hidden_through_seq)
       ORDER BY coalesce(c.last_message_at, c.created_at) DESC, c.id DESC`,
      [userId],
    );
    return found.rows.map((row) => row.id);
  },

  /** Adds a member; false when already one. */
  async addMember(db: Queryable, conversationId: string, userId: string, role: MemberRole) {
    const inserted = await db.query(
      `INSERT INTO conversation_members (conversation_id, user_id, role) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING`,
      [conversationId, userId, role],
    );
    return (inserted.rowCount ?? 0) > 0;
  },

  async removeMember(db: Queryable, conversationId: string, userId: string): Promise<boolean> {
    const removed = await db.query(
      'DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2',
      [conversationId, userId],
    );
    // A later re-join starts afresh rather than inheriting an old per-user delete.
    await db.query(
      'DELETE FROM conversation_deletions WHERE conversation_id = $1 AND user_id = $2',
      [conversationId, userId],
    );
    return (removed.rowCount ?? 0) > 0;
  },

  /** After the owner leaves: the longest-standing admin, else member, becomes owner. */
  async promoteSuccessorIfOwnerless(db: Queryable, conversationId: string): Promise<void> {
    await db.query(
      `UPDATE conversation_members SET role = 'owner'
       WHERE (conversation_id, user_id) = (
         SELECT conversation_id, user_id FROM conversation_members
         WHERE conversation_id = $1
           AND NOT EXISTS (
             SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND role = 'owner')
         ORDER BY (role = 'admin') DESC, joined_at, user_id
         LIMIT 1)`,
      [conversationId],
    );
  },

  /** Locks the conversation row (serialises against sends) for member changes. */
  async lock(db: Queryable, conversationId: string): Promise<void> {
    await db.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversationId]);
  },

  /** Hides the conversation from one user, up to its latest message. */
  async deleteForUser(db: Queryable, conversationId: string, userId: string): Promise<void> {
    await db.query(
      `INSERT INTO conversation_deletions (user_id, conversation_id, deleted_at, hidden_through_seq)
       SELECT $2, id, now(), last_message_seq FROM conversations WHERE id = $1
       ON CONFLICT (user_id, conversation_id)
       DO UPDATE SET deleted_at = EXCLUDED.deleted_at,
                     hidden_through_seq = EXCLUDED.hidden_through_seq`,
      [conversationId, userId],
    );
  },
};
