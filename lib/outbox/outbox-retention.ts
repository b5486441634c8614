import type { Queryable } from '../postgres/transaction.js';

/**
 * Deletes outbox rows that are done with: published in real time, handed to every consumer
 * that has a position (outbox_consumers), and older than `olderThanMs`; at most `batchSize`,
 * oldest first. Returns how many. Meant for a periodic maintenance job, run until it returns
 * less than a batch. A consumer registered later starts from the oldest row still kept.
 */
export async function pruneOutbox(
  db: Queryable,
  options: { olderThanMs: number; batchSize: number },
): Promise<number> {
  const deleted = await db.query(
    `DELETE FROM outbox WHERE id IN (
       SELECT o.id FROM outbox o
       WHERE o.occurred_at < now() - $1 * interval '1 millisecond'
         AND o.published_at IS NOT NULL
         AND NOT EXISTS (
           SELECT 1 FROM outbox_consumers c WHERE (o.txid, o.id) > (c.last_txid, c.last_id))
       ORDER BY o.id
       LIMIT $2)`,
    [options.olderThanMs, options.batchSize],
  );
  return deleted.rowCount ?? 0;
}
