import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { metricsPerRegistry } from '../observability/metrics-per-registry.js';

/** What can fail, as `presence_errors_total{operation}` names it (each counted from 0). */
export const presenceOperations = [
  'connect',
  'heartbeat',
  'disconnect',
  'sweep',
  'query',
  'count',
  'call-enter',
  'call-leave',
  'room-join',
  'room-leave',
  'room-heartbeat',
  'room-query',
  'room-sweep',
  'typing-start',
  'typing-stop',
  'typing-query',
  'typing-sweep',
] as const;

export type PresenceOperation = (typeof presenceOperations)[number];

type CountSource = () => Promise<number | null>;

/**
 * The presence metrics of one registry:
 * - `presence_online_users`: users with a live connection on any instance, counted in Redis
 *   when scraped (one pipeline of one tiny script per index shard), so every instance reports
 *   the same exact figure (graph it with max(), not sum()); unchanged when Redis cannot answer;
 * - `presence_active_rooms`: conversations someone is viewing right now, the same way;
 * - `presence_errors_total{operation}`: presence, room and typing calls that Redis did not
 *   answer (their callers got the "unknown" result).
 */
export class PresenceMetrics {
  readonly #errors: Counter<'operation'>;
  #onlineUsers: CountSource | undefined;
  #activeRooms: CountSource | undefined;

  constructor(registry: Registry) {
    this.#errors = new Counter({
      name: 'presence_errors_total',
      help: 'Presence, room presence and typing operations Redis did not answer, by operation',
      labelNames: ['operation'] as const,
      registers: [registry],
    });
    for (const operation of presenceOperations) this.#errors.inc({ operation }, 0);
    const sources = () => ({ onlineUsers: this.#onlineUsers, activeRooms: this.#activeRooms });
    new Gauge({
      name: 'presence_online_users',
      help: 'Users with at least one live connection on any gateway instance',
      registers: [registry],
      async collect() {
        const count = await sources().onlineUsers?.();
        if (typeof count === 'number') this.set(count);
      },
    });
    new Gauge({
      name: 'presence_active_rooms',
      help: 'Conversations at least one connection is viewing, on any gateway instance',
      registers: [registry],
      async collect() {
        const count = await sources().activeRooms?.();
        if (typeof count === 'number') this.set(count);
      },
    });
  }

  failed(operation: PresenceOperation): void {
    this.#errors.inc({ operation });
  }

  countOnlineUsersWith(source: CountSource): void {
    this.#onlineUsers = source;
  }

  countActiveRoomsWith(source: CountSource): void {
    this.#activeRooms = source;
  }
}

/** The presence metrics of `registry`, shared by presence, rooms and typing on it. */
export const presenceMetrics = metricsPerRegistry((registry) => new PresenceMetrics(registry));

/**
 * Runs Redis work for the gateway's event handlers, which must never see a rejection: a
 * failure is counted, logged once per outage (not once per call), and turned into the
 * caller's documented "unknown" result.
 */
export class BestEffort {
  readonly #metrics: PresenceMetrics;
  readonly #logger: Logger | undefined;
  readonly #what: string;
  #answering = true;

  constructor(metrics: PresenceMetrics, logger: Logger | undefined, what: string) {
    this.#metrics = metrics;
    this.#logger = logger;
    this.#what = what;
  }

  async run<T, U>(
    operation: PresenceOperation,
    work: () => Promise<T>,
    unknown: U,
  ): Promise<T | U> {
    try {
      const result = await work();
      this.answered();
      return result;
    } catch (error) {
      this.failed(operation, error);
      return unknown;
    }
  }

  /** Counts one failure (for batches that keep what succeeded). */
  failed(operation: PresenceOperation, error: unknown): void {
    this.#metrics.failed(operation);
    if (!this.#answering) return;
    this.#answering = false;
    this.#logger?.warn(
      { err: error instanceof Error ? error.message : String(error), operation },
      `${this.#what} degraded: Redis is not answering; results are unknown until it does`,
    );
  }

  answered(): void {
    if (this.#answering) return;
    this.#answering = true;
    this.#logger?.info(`${this.#what} answered by Redis again`);
  }
}

/** A caller's bug, thrown before any Redis work (never caught by BestEffort). */
export function requireId(kind: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id === '') {
    throw new RangeError(`${kind} must be a non-empty string`);
  }
}
