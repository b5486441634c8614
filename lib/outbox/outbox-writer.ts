import type { Pool } from 'pg';
import type { Logger } from '../observability/logger.js';
import { activeTraceCarrier } from '../observability/trace-context.js';
import { type Queryable, returnedRow } from '../postgres/transaction.js';
import { type NewOutboxEvent, newOutboxEventSchema } from './outbox.types.js';

/**
 * Writes outbox rows inside the domain services' transactions (migrations/0007 explains the
 * table), and marks a row published once the service's fast path reached Redis. Receives its
 * pool; never opens a transaction of its own for `append`: a row outside the write's
 * transaction would defeat the point.
 */
export class OutboxWriter {
  readonly #postgres: Pool;
  readonly #logger: Logger;

  constructor(options: { postgres: Pool; logger: Logger }) {
    this.#postgres = options.postgres;
    this.#logger = options.logger;
  }

  /** Inside the write's transaction (`tx`): the row commits or rolls back with it. The
   *  statement trigger wakes the relay at commit (LISTEN quad_outbox). Returns the row's id.
   *  The event is checked against the schema the relay reads it with: a value that satisfies
   *  the type but not the schema (a malformed id, a timestamp not in ISO form) fails the write
   *  here, loudly, rather than committing a row the relay could only dead-letter. */
  async append(tx: Queryable, event: NewOutboxEvent): Promise<string> {
    const checked = newOutboxEventSchema.parse(event);
    const inserted = await tx.query<{ id: string }>(
      `INSERT INTO outbox (type, conversation_id, payload, trace_context)
       VALUES ($1, $2, $3, $4) RETURNING id`,
      [
        checked.type,
        checked.conversationId,
        JSON.stringify(checked.payload),
        // The request's trace, so the worker's relay continues it (NULL when untraced).
        activeTraceCarrier() ?? null,
      ],
    );
    return returnedRow(inserted).id;
  }

  /**
   * After the fast path: `published` says whether the real-time publish reached Redis. Only
   * then is the row marked, so the relay re-does the fast path for every other row. Never
   * rejects: the write is committed already, and a row left unmarked costs one duplicate
   * publish (clients ignore it by id), not a lost one.
   */
  async settle(id: string | undefined, published: boolean): Promise<void> {
    if (id === undefined || !published) return;
    try {
      await this.#postgres.query(
        'UPDATE outbox SET published_at = now() WHERE id = $1 AND published_at IS NULL',
        [id],
      );
    } catch (error) {
      this.#logger.warn(
        { err: String(error), outboxId: id },
        'could not mark outbox row published',
      );
    }
  }
}
