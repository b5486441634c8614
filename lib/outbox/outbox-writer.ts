import type { Pool } from 'pg';
import type { Logger } from '../observability/logger.js';
import { type Queryable, returnedRow } from '../postgres/transaction.js';
import type { OutboxEvent } from './outbox.types.js';

/** An outbox row before it is written: the database assigns id, occurredAt and the txid. */
export type NewOutboxEvent = Omit<OutboxEvent, 'id' | 'occurredAt'>;

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
   *  statement trigger wakes the relay at commit (LISTEN quad_outbox). Returns the row's id. */
  async append(tx: Queryable, event: NewOutboxEvent): Promise<string> {
    const inserted = await tx.query<{ id: string }>(
      'INSERT INTO outbox (type, conversation_id, payload) VALUES ($1, $2, $3) RETURNING id',
      [event.type, event.conversationId, JSON.stringify(event.payload)],
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
