import type { Pool, PoolClient } from 'pg';
import { Counter, Gauge, type Registry } from 'prom-client';
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';
import { startHopSpan, type TraceCarrier } from '../observability/trace-context.js';
import { policy } from '../policy/policy.js';
import { newOutboxEventSchema, type OutboxConsumer, type OutboxEvent } from './outbox.types.js';

/** The channel the outbox trigger notifies at each commit that wrote rows (migration 0007). */
export const OUTBOX_CHANNEL = 'quad_outbox';

export interface OutboxRelayOptions {
  /** The worker's pool: batches and positions go through it, and one of its clients is held
   *  for LISTEN and the consumers' advisory locks while the relay runs. */
  postgres: Pool;
  consumers: readonly OutboxConsumer[];
  logger: Logger;
  registry: Registry;
  /** Defaults: policy.outbox. */
  batchSize?: number;
  pollIntervalMs?: number;
}

interface Position {
  txid: string;
  id: string;
}

/** A row as read: nothing about its content is trusted until newOutboxEventSchema says so. */
interface OutboxRow {
  id: string;
  type: string;
  conversation_id: string;
  payload: unknown;
  occurred_at: Date;
  trace_context: unknown;
  txid: string;
  age_ms: number;
}

const START: Position = { txid: '0', id: '0' };

/** The bound of outbox.dead_letter_reason (migrations/0009). */
const DEAD_LETTER_REASON_MAX_CHARS = 500;

/** A sleep that a notification (or stop) cuts short. */
class Wakeup {
  #wake: (() => void) | undefined;
  #pending = false;

  wake(): void {
    this.#pending = true;
    this.#wake?.();
  }

  /** Resolves after `ms`, or at once if woken since the last wait. */
  wait(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.#wake = undefined;
        self.#pending = false;
        resolve();
      }
      this.#wake = done;
    });
  }
}

/** Exponential backoff with full jitter, capped (policy.outbox). */
function retryDelay(attempt: number): number {
  const { retryBaseDelayMs: base, retryMaxDelayMs: cap } = policy.outbox;
  return Math.max(
    base,
    Math.round(Math.random() * Math.min(cap, base * 2 ** Math.min(attempt, 20))),
  );
}

/**
 * The worker's outbox relay. One loop per consumer: read the next batch of
 * rows past the consumer's position, hand it over, then advance the position in PostgreSQL.
 * Only rows of finished transactions are read, in (txid, id) order (migration 0007 explains
 * why an id alone would skip rows), so no row is ever skipped; a consumer that fails retries
 * the same batch with backoff, so none is reordered either. A row is handed over again only
 * when the worker stops between a successful hand-over and its position update: consumers are
 * idempotent.
 *
 * Every row is validated against its type's schema (outbox.types.ts) before any consumer sees
 * it. One that fails is dead-lettered (marked in outbox.dead_lettered_at, logged, counted in
 * outbox_rows_dead_lettered_total) and passed: never cast, never handed over, and never retried,
 * so a malformed row cannot stop the rows behind it.
 *
 * Woken by NOTIFY at each commit that wrote rows, with a poll as the fallback. With several
 * worker instances each consumer runs in one of them at a time: a session advisory lock per
 * consumer, held on the listening connection, so a crashed worker's consumers move to another
 * as soon as PostgreSQL notices the connection is gone.
 */
export class OutboxRelay {
  readonly #postgres: Pool;
  readonly #consumers: readonly OutboxConsumer[];
  readonly #logger: Logger;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #wakeups = new Map<string, Wakeup>();
  readonly #owned = new Set<string>();
  readonly #listenerWakeup = new Wakeup();
  readonly #positions = new Map<string, Position>();
  readonly #relayed: Counter<'consumer'>;
  readonly #failures: Counter<'consumer'>;
  readonly #reads: Counter<'consumer'>;
  readonly #deadLettered: Counter<'type'>;
  #listener: PoolClient | undefined;
  #loops: Array<Promise<void>> = [];
  #stopped = false;
  #running = false;

  constructor(options: OutboxRelayOptions) {
    this.#postgres = options.postgres;
    this.#consumers = options.consumers;
    this.#logger = options.logger.child({ component: 'outbox-relay' });
    this.#batchSize = options.batchSize ?? policy.outbox.batchSize;
    this.#pollIntervalMs = options.pollIntervalMs ?? policy.outbox.pollIntervalMs;
    const names = new Set(options.consumers.map((consumer) => consumer.name));
    if (names.size !== options.consumers.length) throw new Error('outbox consumer names repeat');
    for (const consumer of options.consumers) this.#wakeups.set(consumer.name, new Wakeup());

    this.#relayed = new Counter({
      name: 'outbox_rows_relayed_total',
      help: 'Outbox rows handed to a consumer by the relay (a row handed again counts again)',
      labelNames: ['consumer'],
      registers: [options.registry],
    });
    this.#failures = new Counter({
      name: 'outbox_relay_failures_total',
      help: 'Batches a consumer failed to take (retried with backoff)',
      labelNames: ['consumer'],
      registers: [options.registry],
    });
    this.#reads = new Counter({
      name: 'outbox_relay_reads_total',
      help: 'Batches read from the outbox per consumer, empty ones included (the relay is alive)',
      labelNames: ['consumer'],
      registers: [options.registry],
    });
    this.#deadLettered = new Counter({
      name: 'outbox_rows_dead_lettered_total',
      help: 'Outbox rows whose content failed their type schema: marked dead, handed to no consumer (quad jobs dead --queue outbox)',
      labelNames: ['type'],
      registers: [options.registry],
    });
    const relay = this;
    new Gauge({
      name: 'outbox_lag_seconds',
      help: 'Age of the oldest outbox row not yet handed to each consumer (0 when none); for consumer="fast-path", of the oldest row whose real-time publish has not happened',
      labelNames: ['consumer'],
      registers: [options.registry],
      async collect() {
        // Bounded like every scrape-time query: a hung PostgreSQL leaves the last values.
        let timer: NodeJS.Timeout | undefined;
        const lags = await Promise.race([
          relay.lagSeconds(),
          new Promise<null>((resolve) => {
            timer = setTimeout(() => resolve(null), policy.worker.scrapeQueryTimeoutMs);
          }),
        ])
          .catch(() => null)
          .finally(() => clearTimeout(timer));
        if (!lags) return;
        for (const [consumer, seconds] of lags) this.set({ consumer }, seconds);
      },
    });
    for (const consumer of options.consumers) this.#relayed.inc({ consumer: consumer.name }, 0);
  }

  /** True while the loops run and the listening connection is up. */
  get healthy(): boolean {
    return this.#running && this.#listener !== undefined;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loops = [this.#listen(), ...this.#consumers.map((consumer) => this.#consume(consumer))];
  }

  /** Stops taking batches, waits for the ones being handed over, releases the locks. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const wakeup of this.#wakeups.values()) wakeup.wake();
    this.#listenerWakeup.wake();
    await Promise.allSettled(this.#loops);
    this.#running = false;
  }

  /** Per consumer, the age in seconds of the oldest row it has not been handed (0: none);
   *  and under `fast-path`, that of the oldest row not published in real time. */
  async lagSeconds(): Promise<Map<string, number>> {
    const lags = new Map<string, number>();
    const unpublished = await this.#postgres.query<{ age: number | null }>(
      `SELECT extract(epoch FROM now() - occurred_at)::float8 AS age FROM outbox
       WHERE published_at IS NULL AND dead_lettered_at IS NULL ORDER BY id LIMIT 1`,
    );
    lags.set('fast-path', Math.max(0, unpublished.rows[0]?.age ?? 0));
    for (const consumer of this.#consumers) {
      const position = await this.#position(consumer.name);
      const next = await this.#postgres.query<{ age: number | null }>(
        `SELECT extract(epoch FROM now() - occurred_at)::float8 AS age FROM outbox
         WHERE (txid, id) > ($1::xid8, $2::bigint) ORDER BY txid, id LIMIT 1`,
        [position.txid, position.id],
      );
      lags.set(consumer.name, Math.max(0, next.rows[0]?.age ?? 0));
    }
    return lags;
  }

  /** Holds the LISTEN connection (and the consumers' locks on it); reconnects with backoff. */
  async #listen(): Promise<void> {
    let attempt = 0;
    while (!this.#stopped) {
      let client: PoolClient | undefined;
      try {
        client = await this.#postgres.connect();
        const lost = new Promise<void>((resolve) => {
          client?.on('error', (error) => {
            this.#logger.warn({ err: error.message }, 'outbox listener connection failed');
            resolve();
          });
          client?.on('end', () => resolve());
        });
        client.on('notification', () => {
          for (const wakeup of this.#wakeups.values()) wakeup.wake();
        });
        await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
        this.#listener = client;
        attempt = 0;
        // Rows committed while nobody listened: look now.
        for (const wakeup of this.#wakeups.values()) wakeup.wake();
        while (!this.#stopped) {
          await this.#claimConsumers(client);
          const woke = await Promise.race([
            lost.then(() => 'lost' as const),
            this.#listenerWakeup.wait(this.#pollIntervalMs).then(() => 'tick' as const),
          ]);
          if (woke === 'lost') throw new Error('listener connection lost');
        }
        await client.query(`UNLISTEN ${OUTBOX_CHANNEL}`).catch(() => {});
        await client.query('SELECT pg_advisory_unlock_all()').catch(() => {});
        this.#release(client);
      } catch (error) {
        this.#release(client, error);
        if (this.#stopped) return;
        attempt += 1;
        this.#logger.warn({ err: String(error), attempt }, 'outbox listener down; retrying');
        await this.#listenerWakeup.wait(retryDelay(attempt));
      }
    }
  }

  #release(client: PoolClient | undefined, error?: unknown) {
    if (!client) return;
    if (this.#listener === client) this.#listener = undefined;
    // Locks live with the session: a broken client is destroyed, which releases them.
    this.#owned.clear();
    try {
      client.release(error === undefined ? undefined : new Error(String(error)));
    } catch {
      // Released already.
    }
  }

  /** Takes the advisory lock of every consumer not yet owned; newly owned ones start. */
  async #claimConsumers(client: PoolClient) {
    for (const consumer of this.#consumers) {
      if (this.#owned.has(consumer.name)) continue;
      const claimed = await client.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_lock(hashtext('quad:outbox-consumer'), hashtext($1)) AS locked`,
        [consumer.name],
      );
      if (claimed.rows[0]?.locked) {
        this.#owned.add(consumer.name);
        // Another instance may have moved it meanwhile.
        this.#positions.delete(consumer.name);
        this.#wakeups.get(consumer.name)?.wake();
        this.#logger.info({ consumer: consumer.name }, 'outbox consumer taken by this worker');
      }
    }
  }

  async #consume(consumer: OutboxConsumer): Promise<void> {
    const wakeup = this.#wakeups.get(consumer.name) ?? new Wakeup();
    let attempt = 0;
    while (!this.#stopped) {
      if (!this.#owned.has(consumer.name)) {
        await wakeup.wait(this.#pollIntervalMs);
        continue;
      }
      try {
        const outcome = await this.#relayBatch(consumer);
        attempt = 0;
        if (outcome.kind === 'full') continue;
        await wakeup.wait(outcome.kind === 'settling' ? outcome.waitMs : this.#pollIntervalMs);
      } catch (error) {
        attempt += 1;
        this.#failures.inc({ consumer: consumer.name });
        this.#logger.warn(
          { consumer: consumer.name, err: String(error), attempt },
          'outbox consumer failed a batch; retrying it',
        );
        // Not cut short by notifications: a failing receiver is not retried on every commit.
        await new Promise((resolve) => setTimeout(resolve, retryDelay(attempt)));
      }
    }
  }

  async #position(name: string): Promise<Position> {
    const known = this.#positions.get(name);
    if (known) return known;
    const found = await this.#postgres.query<{ last_txid: string; last_id: string }>(
      'SELECT last_txid::text, last_id::text FROM outbox_consumers WHERE name = $1',
      [name],
    );
    const row = found.rows[0];
    return row ? { txid: row.last_txid, id: row.last_id } : START;
  }

  /** One batch: read, hand over, advance. */
  async #relayBatch(
    consumer: OutboxConsumer,
  ): Promise<{ kind: 'full' } | { kind: 'idle' } | { kind: 'settling'; waitMs: number }> {
    const position = await this.#position(consumer.name);
    // Only rows of transactions that finished before this snapshot: none below the bound can
    // appear later (migrations/0007_outbox_notifications.sql).
    const found = await this.#postgres.query<OutboxRow>(
      `SELECT id::text, type, conversation_id, payload, occurred_at, trace_context, txid::text,
         (extract(epoch FROM now() - occurred_at) * 1000)::float8 AS age_ms
       FROM outbox
       WHERE (txid, id) > ($1::xid8, $2::bigint)
         AND txid < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY txid, id
       LIMIT $3`,
      [position.txid, position.id, this.#batchSize],
    );
    this.#reads.inc({ consumer: consumer.name });
    const settleMs = consumer.settleMs ?? 0;
    const young = found.rows.findIndex((row) => row.age_ms < settleMs);
    const ready = young === -1 ? found.rows : found.rows.slice(0, young);
    const waiting = found.rows[ready.length];
    if (ready.length > 0) {
      const events: OutboxEvent[] = [];
      for (const row of ready) {
        const event = toEvent(row);
        if (event.success) events.push(event.data);
        else await this.#deadLetter(consumer, row, event.error);
      }
      if (events.length > 0) await this.#handOver(consumer, events);
      const last = ready[ready.length - 1] as OutboxRow;
      const next = { txid: last.txid, id: last.id };
      await this.#postgres.query(
        `INSERT INTO outbox_consumers (name, last_txid, last_id, updated_at)
         VALUES ($1, $2::xid8, $3::bigint, now())
         ON CONFLICT (name) DO UPDATE
         SET last_txid = EXCLUDED.last_txid, last_id = EXCLUDED.last_id, updated_at = now()`,
        [consumer.name, next.txid, next.id],
      );
      this.#positions.set(consumer.name, next);
      this.#relayed.inc({ consumer: consumer.name }, events.length);
    }
    if (waiting) return { kind: 'settling', waitMs: Math.max(1, settleMs - waiting.age_ms) };
    return found.rows.length === this.#batchSize ? { kind: 'full' } : { kind: 'idle' };
  }

  /**
   * Hands a batch over, each row inside a span continuing the trace of the write that made it
   * (when that write was traced); the consumer receives this span's context, so a job it
   * enqueues continues the same trace.
   */
  async #handOver(consumer: OutboxConsumer, events: OutboxEvent[]): Promise<void> {
    const hops = events.map((event) =>
      startHopSpan(event.traceContext, `outbox relay ${consumer.name}`, {
        'messaging.system': 'postgresql-outbox',
        'messaging.operation.type': 'process',
        'messaging.consumer.group.name': consumer.name,
        'messaging.message.id': event.id,
        'quad.outbox.type': event.type,
      }),
    );
    let failure: unknown;
    try {
      await consumer.handle(
        events.map((event, index) => ({ ...event, traceContext: hops[index]?.carrier })),
      );
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      for (const hop of hops) hop.end(failure);
    }
  }

  /**
   * Marks a row that failed its schema, once whichever consumer meets it first (the others
   * find it marked). A failure to mark rejects, so the batch is retried like any other.
   */
  async #deadLetter(consumer: OutboxConsumer, row: OutboxRow, error: z.ZodError) {
    const reason = z.prettifyError(error).slice(0, DEAD_LETTER_REASON_MAX_CHARS);
    const marked = await this.#postgres.query(
      `UPDATE outbox SET dead_lettered_at = now(), dead_letter_reason = $2
       WHERE id = $1 AND dead_lettered_at IS NULL`,
      [row.id, reason],
    );
    if ((marked.rowCount ?? 0) === 0) return;
    this.#deadLettered.inc({ type: row.type });
    this.#logger.error(
      { outboxId: row.id, type: row.type, consumer: consumer.name, reason },
      'malformed outbox row dead-lettered; no consumer receives it',
    );
  }
}

/** The stored trace context, if it is one (a hand-written row may hold anything). */
function traceCarrierOf(stored: unknown): TraceCarrier | undefined {
  if (typeof stored !== 'object' || stored === null) return undefined;
  const carrier: TraceCarrier = {};
  for (const [key, value] of Object.entries(stored)) {
    if (typeof value === 'string') carrier[key] = value;
  }
  return carrier.traceparent ? carrier : undefined;
}

function toEvent(
  row: OutboxRow,
): { success: true; data: OutboxEvent } | { success: false; error: z.ZodError } {
  const event = newOutboxEventSchema.safeParse({
    type: row.type,
    conversationId: row.conversation_id,
    payload: row.payload,
  });
  if (!event.success) return event;
  return {
    success: true as const,
    data: {
      ...event.data,
      id: row.id,
      occurredAt: row.occurred_at.toISOString(),
      traceContext: traceCarrierOf(row.trace_context),
    },
  };
}
