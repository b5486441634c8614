import type { Socket } from 'socket.io';
import { conversationProblems } from '../../lib/conversations/conversation-problems.js';
import { ackCodeOf } from '../../lib/http/problem-codes.js';
import { isPostgresUnavailable } from '../../lib/http/service-unavailable.js';
import type { Logger } from '../../lib/observability/logger.js';
import { policy } from '../../lib/policy/policy.js';
import { InProcessRateLimiter, type RateLimitPolicy } from '../../lib/rate-limit/index.js';
import {
  type Ack,
  type AckErrorCode,
  type ClientEventName,
  type ClientEventPayload,
  clientEventSchemas,
} from './socket-events.js';
import type { SocketMetrics } from './socket-metrics.js';

/** Who is behind a connection, set by the handshake (socket-auth.ts). */
export interface Connection {
  socket: Socket;
  userId: string;
  sessionId: string;
}

/** A handler answers with the ack's fields; its errors become ack errors (toAckError). */
export type EventHandler<E extends ClientEventName> = (
  connection: Connection,
  payload: ClientEventPayload<E>,
) => Promise<Record<string, unknown>>;

export type EventHandlers = { [E in ClientEventName]: EventHandler<E> };

/** A refusal that carries its ack code (rate limits, domain refusals made in handlers). */
export class AckError extends Error {
  constructor(
    readonly code: AckErrorCode,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'AckError';
  }
}

/** Domain errors to ack codes through the api's own mapping (conversationProblems) and code
 *  table, so a refusal means the same over both transports. */
export function toAckError(error: unknown): Extract<Ack, { ok: false }>['error'] {
  if (error instanceof AckError) {
    return error.retryAfterMs === undefined
      ? { code: error.code, message: error.message }
      : { code: error.code, message: error.message, retryAfterMs: error.retryAfterMs };
  }
  const mapped = conversationProblems(error);
  if (mapped) {
    const message = error instanceof Error ? error.message : mapped.problem.title;
    return { code: ackCodeOf(mapped.problem.code), message };
  }
  if (isPostgresUnavailable(error)) {
    return {
      code: ackCodeOf('service_unavailable'),
      message: 'storage is unavailable; retry shortly',
    };
  }
  return { code: ackCodeOf('internal_error'), message: 'internal error' };
}

/** The per-connection flood limit as a rate-limit policy for the in-process limiter. */
const floodPolicy: RateLimitPolicy = {
  subject: 'user',
  algorithm: 'gcra',
  limit: policy.realtime.eventsPerSecond * 60,
  windowMs: 60_000,
  burst: policy.realtime.eventBurst,
  failureMode: 'closed',
};

/**
 * Validates, limits and runs every event a client sends, and always answers its ack: a
 * handler never throws into Socket.IO (an async listener's rejection would be unhandled),
 * malformed and unknown events are refused without reaching a handler, and a connection
 * that keeps getting refused is disconnected with the reason `rate_limited`.
 */
export class EventDispatcher {
  readonly #handlers: EventHandlers;
  readonly #metrics: SocketMetrics;
  readonly #logger: Logger;
  readonly #onAbuse: (connection: Connection) => void;
  /** Per-connection event budget. A connection lives on one instance, so in process; an
   *  entry is dropped when its connection closes, so the bound is never reached in practice. */
  readonly #flood = new InProcessRateLimiter(1_000_000);
  readonly #violations = new WeakMap<Socket, number[]>();

  constructor(options: {
    handlers: EventHandlers;
    metrics: SocketMetrics;
    logger: Logger;
    /** Called once a connection exceeds its violations; expected to disconnect it. */
    onAbuse: (connection: Connection) => void;
  }) {
    this.#handlers = options.handlers;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#onAbuse = options.onAbuse;
  }

  attach(connection: Connection): void {
    const { socket } = connection;
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if (typeof event === 'string' && Object.hasOwn(clientEventSchemas, event)) {
        void this.#dispatch(connection, event as ClientEventName, args);
        return;
      }
      const name = typeof event === 'string' ? event : String(event);
      this.#refuse(connection, 'unknown', args, {
        code: 'unknown_event',
        message: `unknown event ${JSON.stringify(name.slice(0, 64))}`,
      });
    });
    socket.on('disconnect', () => this.#flood.forget(socket.id));
  }

  async #dispatch(connection: Connection, event: ClientEventName, args: unknown[]) {
    const budget = this.#flood.check(connection.socket.id, floodPolicy, 1);
    if (!budget.admitted) {
      this.#refuse(connection, event, args, {
        code: 'rate_limited',
        message: 'too many events on this connection',
        retryAfterMs: Math.ceil(budget.retryAfterMs),
      });
      return;
    }
    const ack = typeof args.at(-1) === 'function' ? (args.at(-1) as (answer: Ack) => void) : null;
    const payloadArgs = ack ? args.slice(0, -1) : args;
    const parsed = clientEventSchemas[event].safeParse(payloadArgs[0]);
    if (payloadArgs.length !== 1 || !parsed.success) {
      const detail = parsed.success
        ? 'send exactly one payload object'
        : parsed.error.issues
            .slice(0, 5)
            .map((issue) => `${issue.path.join('.') || '(payload)'}: ${issue.message}`)
            .join('; ');
      this.#refuse(connection, event, args, { code: 'invalid_payload', message: detail });
      return;
    }
    const started = performance.now();
    let answer: Ack;
    try {
      const handler = this.#handlers[event] as EventHandler<typeof event>;
      answer = { ok: true, ...(await handler(connection, parsed.data as never)) };
      this.#metrics.eventsReceived.inc({ event, result: 'ok' });
    } catch (error) {
      const failure = toAckError(error);
      if (failure.code === 'internal') {
        this.#logger.error({ err: error, event, userId: connection.userId }, 'socket event failed');
      }
      answer = { ok: false, error: failure };
      this.#metrics.eventsReceived.inc({ event, result: failure.code });
      if (failure.code === 'rate_limited') this.#violation(connection);
    }
    this.#metrics.handlerSeconds.observe({ event }, (performance.now() - started) / 1000);
    ack?.(answer);
  }

  /** Refuses an event before any handler ran, and counts it against the connection. */
  #refuse(
    connection: Connection,
    event: string,
    args: unknown[],
    error: Extract<Ack, { ok: false }>['error'],
  ) {
    this.#metrics.eventsReceived.inc({ event, result: error.code });
    const ack = args.at(-1);
    if (typeof ack === 'function') (ack as (answer: Ack) => void)({ ok: false, error });
    this.#violation(connection);
  }

  #violation(connection: Connection) {
    const now = performance.now();
    const recent = (this.#violations.get(connection.socket) ?? []).filter(
      (at) => now - at < policy.realtime.violationWindowMs,
    );
    recent.push(now);
    this.#violations.set(connection.socket, recent);
    if (recent.length > policy.realtime.maxViolations && connection.socket.connected) {
      this.#onAbuse(connection);
    }
  }
}
