import type { Pool } from 'pg';
import { z } from 'zod';
import { inTransaction } from '../postgres/transaction.js';
import { newOutboxEventSchema } from './outbox.types.js';
import type { OutboxWriter } from './outbox-writer.js';

/** An outbox row the relay dead-lettered (its content failed its type's schema). */
export interface OutboxDeadLetter {
  id: string;
  type: string;
  conversationId: string;
  occurredAt: string;
  deadLetteredAt: string;
  /** What the schema said, as the relay logged it. */
  reason: string;
}

/** The id is not that of a dead-lettered outbox row. */
export class OutboxRowNotDeadError extends Error {
  constructor(readonly outboxId: string) {
    super(`no dead-lettered outbox row ${outboxId}`);
    this.name = 'OutboxRowNotDeadError';
  }
}

/** The row is still malformed: retrying it would only dead-letter it again. */
export class OutboxRowStillMalformedError extends Error {
  constructor(
    readonly outboxId: string,
    readonly reason: string,
  ) {
    super(`outbox row ${outboxId} still fails its schema: ${reason}`);
    this.name = 'OutboxRowStillMalformedError';
  }
}

/**
 * The outbox's dead letters for operators (`quad jobs dead|retry|drop --queue outbox`). Every
 * consumer has passed a dead row, so retrying it means writing it again: once its payload has
 * been repaired by hand, it is appended as a new row (the consumers meet it at their end of the
 * outbox) and the dead one goes, in one transaction.
 */
export class OutboxDeadLetters {
  readonly #postgres: Pool;
  readonly #writer: OutboxWriter;

  constructor(options: { postgres: Pool; writer: OutboxWriter }) {
    this.#postgres = options.postgres;
    this.#writer = options.writer;
  }

  /** Most recently dead-lettered first. */
  async list(limit: number): Promise<OutboxDeadLetter[]> {
    const found = await this.#postgres.query<{
      id: string;
      type: string;
      conversation_id: string;
      occurred_at: Date;
      dead_lettered_at: Date;
      reason: string | null;
    }>(
      `SELECT id::text, type, conversation_id, occurred_at, dead_lettered_at,
         dead_letter_reason AS reason
       FROM outbox WHERE dead_lettered_at IS NOT NULL
       ORDER BY dead_lettered_at DESC, id DESC LIMIT $1`,
      [limit],
    );
    return found.rows.map((row) => ({
      id: row.id,
      type: row.type,
      conversationId: row.conversation_id,
      occurredAt: row.occurred_at.toISOString(),
      deadLetteredAt: row.dead_lettered_at.toISOString(),
      reason: row.reason ?? '',
    }));
  }

  /** Appends the repaired row again and deletes the dead one; returns the new row's id. */
  async retry(outboxId: string): Promise<string> {
    return inTransaction(this.#postgres, async (tx) => {
      const found = await tx.query<{ type: string; conversation_id: string; payload: unknown }>(
        `SELECT type, conversation_id, payload FROM outbox
         WHERE id = $1 AND dead_lettered_at IS NOT NULL FOR UPDATE`,
        [outboxId],
      );
      const row = found.rows[0];
      if (!row) throw new OutboxRowNotDeadError(outboxId);
      const event = newOutboxEventSchema.safeParse({
        type: row.type,
        conversationId: row.conversation_id,
        payload: row.payload,
      });
      if (!event.success) {
        throw new OutboxRowStillMalformedError(outboxId, z.prettifyError(event.error));
      }
      const appended = await this.#writer.append(tx, event.data);
      await tx.query('DELETE FROM outbox WHERE id = $1', [outboxId]);
      return appended;
    });
  }

  /** Forgets a dead row for good. */
  async drop(outboxId: string): Promise<void> {
    const deleted = await this.#postgres.query(
      'DELETE FROM outbox WHERE id = $1 AND dead_lettered_at IS NOT NULL',
      [outboxId],
    );
    if ((deleted.rowCount ?? 0) === 0) throw new OutboxRowNotDeadError(outboxId);
  }
}
