import type { Pool } from 'pg';

/**
 * Deletes sessions that ended (expired, or revoked) more than `graceDays` ago, `batchSize` rows
 * per statement until none is left. Live sessions are never touched; an ended one is refused at
 * authentication whether or not its row still exists, so deleting it changes nothing a client
 * sees, only what "your sessions" and an investigation can look back on. Returns the count.
 */
export async function deleteEndedSessions(
  postgres: Pool,
  settings: { graceDays: number; batchSize: number },
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const result = await postgres.query(
      `DELETE FROM sessions WHERE id IN (
         SELECT id FROM sessions
         WHERE expires_at < now() - make_interval(days => $1)
            OR revoked_at < now() - make_interval(days => $1)
         LIMIT $2)`,
      [settings.graceDays, settings.batchSize],
    );
    deleted += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < settings.batchSize) return deleted;
  }
}
