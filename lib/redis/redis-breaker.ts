import { ReplyError } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { metricsPerRegistry } from '../observability/metrics-per-registry.js';
import { policy } from '../policy/policy.js';
import { isNodeRedisReply } from './node-redis-client.js';
import type { RedisClient } from './redis-client.js';

/**
 * A circuit breaker for one Redis client, so that a dead or hung Redis costs a request nothing
 * (Redis is fast or absent, never slow): after repeated failures it opens and every call fails
 * at once with RedisUnavailableError, without touching the client; the caller falls back to
 * PostgreSQL.
 *
 *   closed ──(consecutiveFailures in a row, or failureRatio of the last windowCalls)──▶ open
 *   open ──(cooldownMs)──▶ half-open: the next call is the probe, the others still fail fast
 *   half-open ──probe answered──▶ closed        half-open ──probe failed──▶ open
 *
 * Hand-written rather than opossum, the usual Node breaker, because: opossum 10 requires Node
 * 22 (we run 20); its threshold is a failure percentage over a timer-driven rolling window, so
 * "N in a row" and an injected clock (the unit tests) are not available; and what we need on
 * top (classify Redis' own error replies as "Redis answered", fail fast on a client that is not
 * connected) would wrap it anyway. The whole state machine is the ~100 lines below, with no
 * timer: the clock is read when a call arrives. (Measured with a no-op call on the 2-core dev
 * machine: ~45 ns of overhead per call here, ~300 ns for opossum 9 with its per-call timer off;
 * both are small next to a Redis round trip, so speed was not the deciding reason.)
 *
 * Only network-level trouble counts as a failure: timeouts, refused or closed connections, and
 * the replies that mean "Redis cannot serve now" (BUSY, LOADING, MASTERDOWN, CLUSTERDOWN,
 * TRYAGAIN). Any other error reply (WRONGTYPE, NOPERM, OOM, a script error) proves Redis is
 * alive and answering: it is passed to the caller and counts as a success here.
 *
 * Metrics (per registry, one series per breaker name):
 * - `redis_breaker_state{redis}`: 0 closed, 1 half-open, 2 open;
 * - `redis_breaker_rejections_total{redis}`: calls refused without touching the client (open,
 *   a probe already in flight, or the client not connected).
 */

export type RedisBreakerState = 'closed' | 'half-open' | 'open';

export interface RedisBreakerSettings {
  consecutiveFailures: number;
  failureRatio: number;
  windowCalls: number;
  cooldownMs: number;
}

/** A Redis call refused by the breaker; the caller should do without Redis. */
export class RedisUnavailableError extends Error {
  /** The breaker's name (which Redis: `state`, `cache`). */
  readonly redis: string;
  constructor(redis: string, reason: string) {
    super(`redis ${redis} unavailable: ${reason}`);
    this.name = 'RedisUnavailableError';
    this.redis = redis;
  }
}

export interface RedisBreakerOptions {
  /** Which Redis this guards, as metrics and logs name it: `state` or `cache`. */
  name: string;
  /** The client whose calls go through this breaker: a call while it is not `ready` fails
   *  fast (and counts as a failure) instead of waiting for a reconnect. Only its status is
   *  read; the breaker never sends anything itself. */
  redis: Pick<RedisClient, 'status'>;
  registry: Registry;
  logger: Logger;
  /** Default: policy.redisBreaker. */
  settings?: RedisBreakerSettings;
  /** Milliseconds, monotonic. Default: performance.now. Tests inject their own. */
  now?: () => number;
}

const stateValue: Record<RedisBreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/** Error replies that mean Redis is up but cannot serve right now. */
const UNAVAILABLE_REPLY = /^(BUSY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/;
const RedisReplyError: abstract new (...args: never[]) => Error = ReplyError;

/** True when `error` is an answer from Redis itself (so Redis is alive), not a lost call. */
export function isRedisReply(error: unknown): boolean {
  // ioredis' replies, and node-redis' (the client redis-om is given, lib/calls).
  return (
    (error instanceof RedisReplyError || isNodeRedisReply(error)) &&
    error instanceof Error &&
    !UNAVAILABLE_REPLY.test(error.message)
  );
}

export class RedisBreaker {
  readonly name: string;
  readonly redis: Pick<RedisClient, 'status'>;
  readonly settings: RedisBreakerSettings;
  readonly #logger: Logger;
  readonly #now: () => number;
  #state: RedisBreakerState = 'closed';
  /** Bumped on every transition and every probe: an outcome that arrives from an older epoch
   *  (a call admitted before the breaker opened, a probe given up on) changes nothing. */
  #epoch = 0;
  #consecutiveFailures = 0;
  /** The outcomes of the last windowCalls calls (1 = failed), a ring. */
  readonly #window: Uint8Array;
  #windowNext = 0;
  #windowCount = 0;
  #windowFailures = 0;
  #openedAt = 0;
  /** Half-open: when the probe was let through (undefined: no probe yet). */
  #probeStartedAt: number | undefined;
  /** A plain number on the hot path, added to the Prometheus counter at scrape time. */
  #rejections = 0;

  constructor(options: RedisBreakerOptions) {
    this.name = options.name;
    this.redis = options.redis;
    this.settings = options.settings ?? policy.redisBreaker;
    const { consecutiveFailures, failureRatio, windowCalls, cooldownMs } = this.settings;
    if (
      !(Number.isInteger(consecutiveFailures) && consecutiveFailures >= 1) ||
      !(failureRatio > 0 && failureRatio <= 1) ||
      !(Number.isInteger(windowCalls) && windowCalls >= 1) ||
      !(cooldownMs >= 0)
    ) {
      throw new RangeError(`invalid redis breaker settings: ${JSON.stringify(this.settings)}`);
    }
    this.#window = new Uint8Array(windowCalls);
    this.#logger = options.logger.child({ component: 'redis-breaker', redis: options.name });
    this.#now = options.now ?? (() => performance.now());
    breakerMetrics(options.registry).add(this.name, {
      state: () => this.state,
      takeRejections: () => {
        const rejections = this.#rejections;
        this.#rejections = 0;
        return rejections;
      },
    });
  }

  /** The current state; an open breaker whose cooldown has passed reads as half-open. */
  get state(): RedisBreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.settings.cooldownMs) {
      this.#transition('half-open', 'cooldown elapsed; the next call probes Redis');
    }
    return this.#state;
  }

  /**
   * Runs `operation` (the Redis call or pipeline, nothing else: any error it throws is judged
   * as a Redis outcome) unless the breaker refuses it, in which case it rejects with
   * RedisUnavailableError without calling it. The operation's own result or error is passed
   * through unchanged.
   */
  async run<T>(operation: () => Promise<T>): Promise<T> {
    const epoch = this.#admit();
    let result: T;
    try {
      result = await operation();
    } catch (error) {
      if (isRedisReply(error)) this.#succeeded(epoch);
      else this.#failed(epoch, error instanceof Error ? error.message : String(error));
      throw error;
    }
    this.#succeeded(epoch);
    return result;
  }

  /** Returns the epoch the call runs in, or throws RedisUnavailableError. */
  #admit(): number {
    const state = this.state;
    if (state === 'open') this.#reject('circuit open');
    if (state === 'half-open') {
      const now = this.#now();
      // One probe at a time; a probe that never settled (a client without a command timeout)
      // is given up on after a cooldown, so the breaker cannot stay half-open forever.
      if (
        this.#probeStartedAt !== undefined &&
        now - this.#probeStartedAt < this.settings.cooldownMs
      ) {
        this.#reject('circuit half-open, probe in flight');
      }
      this.#probeStartedAt = now;
      this.#epoch++;
    }
    const status = this.redis.status;
    if (status !== 'ready') {
      // Not connected: ioredis would refuse or queue the call; either way do not wait. Counts
      // as a failure so that a disconnected Redis opens the breaker like a hung one.
      this.#failed(this.#epoch, `connection is ${status}`);
      this.#reject(`connection is ${status}`);
    }
    return this.#epoch;
  }

  #reject(reason: string): never {
    this.#rejections++;
    throw new RedisUnavailableError(this.name, reason);
  }

  #succeeded(epoch: number) {
    if (epoch !== this.#epoch) return;
    if (this.#state === 'half-open') {
      this.#transition('closed', 'probe answered; Redis is used again');
      return;
    }
    this.#consecutiveFailures = 0;
    this.#record(0);
  }

  #failed(epoch: number, reason: string) {
    if (epoch !== this.#epoch) return;
    if (this.#state === 'half-open') {
      this.#transition('open', `probe failed: ${reason}`);
      return;
    }
    if (this.#state !== 'closed') return;
    this.#consecutiveFailures++;
    this.#record(1);
    const { consecutiveFailures, failureRatio, windowCalls } = this.settings;
    if (this.#consecutiveFailures >= consecutiveFailures) {
      this.#transition('open', `${this.#consecutiveFailures} calls failed in a row: ${reason}`);
    } else if (
      this.#windowCount === windowCalls &&
      this.#windowFailures >= failureRatio * windowCalls
    ) {
      this.#transition(
        'open',
        `${this.#windowFailures} of the last ${windowCalls} calls failed: ${reason}`,
      );
    }
  }

  #record(outcome: 0 | 1) {
    const { windowCalls } = this.settings;
    if (this.#windowCount === windowCalls) {
      this.#windowFailures -= this.#window[this.#windowNext] ?? 0;
    } else {
      this.#windowCount++;
    }
    this.#window[this.#windowNext] = outcome;
    this.#windowFailures += outcome;
    this.#windowNext = (this.#windowNext + 1) % windowCalls;
  }

  #transition(to: RedisBreakerState, reason: string) {
    const from = this.#state;
    this.#state = to;
    this.#epoch++;
    this.#probeStartedAt = undefined;
    if (to === 'open') this.#openedAt = this.#now();
    if (to === 'closed') {
      this.#consecutiveFailures = 0;
      this.#window.fill(0);
      this.#windowNext = 0;
      this.#windowCount = 0;
      this.#windowFailures = 0;
    }
    // One line per outage at warn (it opened) and one at info (it closed); the probes in
    // between are debug, so a long outage does not write a line every cooldown.
    const fields = { from, to, reason };
    if (from === 'closed') {
      this.#logger.warn(fields, 'redis breaker open: calls fail fast until Redis answers again');
    } else if (to === 'closed') {
      this.#logger.info(fields, 'redis breaker closed: Redis answers again');
    } else {
      this.#logger.debug(fields, `redis breaker ${to}`);
    }
  }
}

/** What the metrics read from one breaker when Prometheus scrapes. */
interface BreakerReadings {
  state(): RedisBreakerState;
  /** Rejections since the last call. */
  takeRejections(): number;
}

/** The breaker metrics of one registry; every breaker on it reports through them. */
class BreakerMetrics {
  readonly #breakers = new Map<string, BreakerReadings>();

  constructor(registry: Registry) {
    const breakers = this.#breakers;
    new Gauge({
      name: 'redis_breaker_state',
      help: 'Circuit breaker state per Redis: 0 closed, 1 half-open, 2 open',
      labelNames: ['redis'] as const,
      registers: [registry],
      collect() {
        for (const [redis, breaker] of breakers) this.set({ redis }, stateValue[breaker.state()]);
      },
    });
    new Counter({
      name: 'redis_breaker_rejections_total',
      help: 'Redis calls refused by the circuit breaker without touching the client',
      labelNames: ['redis'] as const,
      registers: [registry],
      collect() {
        // Always touched, so each series exists (at 0) before the first outage.
        for (const [redis, breaker] of breakers) this.inc({ redis }, breaker.takeRejections());
      },
    });
  }

  add(name: string, readings: BreakerReadings) {
    if (this.#breakers.has(name)) {
      // Two breakers for one Redis would each see half the failures and disagree on its state.
      throw new Error(`a redis breaker named ${name} is already registered on this registry`);
    }
    this.#breakers.set(name, readings);
  }
}

const breakerMetrics = metricsPerRegistry((registry) => new BreakerMetrics(registry));
