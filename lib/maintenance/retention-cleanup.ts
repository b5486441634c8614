import type { Pool } from 'pg';
import type { RecentMessagesStore, UnreadCountsService } from '../conversations/index.js';
import type { Logger } from '../observability/logger.js';

/** institution_settings key of the message retention period, in days (absent/null: forever). */
export const RETENTION_SETTING = 'messages.retention_days';

/** The institution's retention in whole days, or null to keep messages forever. */
export async function messageRetentionDays(
  postgres: Pool,
  logger?: Logger,
): Promise<number | null> {
  const result = await postgres.query<{ value: unknown }>(
    'SELECT value FROM institution_settings WHERE key = $1',
    [RETENTION_SETTING],
  );
  const value = result.rows[0]?.value ?? null;
  if (value === null) return null;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return value;
  // A setting nobody can interpret must not delete anything.
  logger?.warn(
    { key: RETENTION_SETTING, value },
    'retention setting ignored: not a whole number of days ≥ 1',
  );
  return null;
}

export interface RetentionResult {
  retentionDays: number | null;
  messages: number;
  conversations: number;
}

/**
 * Blanks the messages older than the institution's retention, exactly as a delete does (body
 * gone, deleted_at set, the row keeps its place in history, search no longer finds it), in
 * short batches, and then corrects every cache that could still show their words: the recent
 * messages of the touched conversations, their cached searches and the unread counters of
 * their members (a deleted message is never unread). Soft, not hard, delete: sequence numbers,
 * read receipts and cursors stay valid, and the personal data (the words) is what retention is
 * about. Clients that have the old text on screen keep it until they reload; no real-time
 * event or webhook is sent for retention (thousands of years-old messages are not news).
 */
export class RetentionCleanup {
  readonly #postgres: Pool;
  readonly #recent: RecentMessagesStore;
  readonly #unread: UnreadCountsService;
  readonly #search: { conversationChanged(conversationId: string): Promise<void> };
  readonly #batchSize: number;
  readonly #maxBatches: number;
  readonly #logger: Logger;

  constructor(options: {
    postgres: Pool;
    recent: RecentMessagesStore;
    unread: UnreadCountsService;
    search: { conversationChanged(conversationId: string): Promise<void> };
    batchSize: number;
    maxBatches: number;
    logger: Logger;
  }) {
    this.#postgres = options.postgres;
    this.#recent = options.recent;
    this.#unread = options.unread;
    this.#search = options.search;
    this.#batchSize = options.batchSize;
    this.#maxBatches = options.maxBatches;
    this.#logger = options.logger.child({ component: 'retention' });
  }

  async run(): Promise<RetentionResult> {
    const retentionDays = await messageRetentionDays(this.#postgres, this.#logger);
    if (retentionDays === null) return { retentionDays, messages: 0, conversations: 0 };
    let messages = 0;
    const touched = new Set<string>();
    for (let batch = 0; batch < this.#maxBatches; batch++) {
      // SKIP LOCKED: a message being edited right now is left for the next run instead of
      // making this statement wait.
      const blanked = await this.#postgres.query<{ conversation_id: string }>(
        `WITH due AS (
           SELECT id FROM messages
           WHERE deleted_at IS NULL AND created_at < now() - make_interval(days => $1)
           ORDER BY created_at
           LIMIT $2
           FOR UPDATE SKIP LOCKED)
         , blanked AS (
           UPDATE messages m SET body = NULL, deleted_at = now()
           FROM due WHERE m.id = due.id
           RETURNING m.conversation_id)
         , bumped AS (
           -- What was unread may be gone: cached unread counts of these conversations are
           -- recomputed (lib/conversations/unread-counts.service.ts).
           UPDATE conversations SET unread_version = unread_version + 1
           WHERE id IN (SELECT conversation_id FROM blanked))
         SELECT conversation_id FROM blanked`,
        [retentionDays, this.#batchSize],
      );
      const conversations = [...new Set(blanked.rows.map((row) => row.conversation_id))];
      await this.#forgetCaches(conversations);
      for (const id of conversations) touched.add(id);
      messages += blanked.rowCount ?? 0;
      if ((blanked.rowCount ?? 0) < this.#batchSize) break;
    }
    if (messages > 0) {
      this.#logger.info(
        { retentionDays, messages, conversations: touched.size },
        'messages past retention blanked',
      );
    }
    return { retentionDays, messages, conversations: touched.size };
  }

  /** After each batch's commit, as MessageService.delete does after one message. */
  async #forgetCaches(conversationIds: readonly string[]): Promise<void> {
    for (const conversationId of conversationIds) {
      await Promise.all([
        this.#recent.invalidate(conversationId),
        this.#search.conversationChanged(conversationId),
        this.#unread.messagesRemoved(conversationId),
      ]);
    }
  }
}
