import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import {
  type RateLimitPolicies,
  type RateLimitPolicy,
  type RateLimitPolicyName,
  rateLimitRuntime,
  resolveRateLimitPolicies,
} from '../policy/rate-limit.policies.js';
import type { RedisBreaker } from '../redis/redis-breaker.js';
import { connectionOptions, type RedisClient } from '../redis/redis-client.js';
import { InProcessRateLimiter } from './in-process-limiter.js';
import { gcraOutcome, gcraShape, type RawDecision } from './rate-limit-decision.js';
import { encodeSubject, rateLimitKeyParts } from './rate-limit-key.js';
import { type PolicyMetrics, rateLimitMetrics } from './rate-limit-metrics.js';
import {
  checkedReply,
  defineRateLimitScripts,
  type RateLimitScript,
  rateLimitScript,
} from './rate-limit-scripts.js';

/** Who decided: Redis (shared by every instance), the in-process fallback of a `closed`
 *  policy, or nobody (an `open` policy admitting unchecked while Redis cannot answer). */
export type RateLimitDecisionSource = 'redis' | 'fallback' | 'unchecked';

export interface RateLimitDecision {
  policy: RateLimitPolicyName;
  allowed: boolean;
  /** The policy as applied (after operator overrides): limit units per windowMs. */
  limit: number;
  windowMs: number;
  /** Units left after this decision (unchanged by a rejection). */
  remaining: number;
  /** 0 when allowed; otherwise milliseconds until this same request would be allowed. */
  retryAfterMs: number;
  /** Milliseconds until at least one more unit is available (0 when the budget is full): the
   *  time within which the client can spend no more than `remaining`. */
  resetMs: number;
  source: RateLimitDecisionSource;
}

/** A check asked for a cost no policy state could ever admit: a bug in the caller. */
export class RateLimitCostError extends RangeError {
  constructor(policy: RateLimitPolicyName, cost: number, capacity: number) {
    super(`rate-limit cost ${cost} for ${policy} must be a whole number between 1 and ${capacity}`);
    this.name = 'RateLimitCostError';
  }
}

export interface RateLimiterOptions {
  /** The state Redis, role `command` (lib/redis/redis-client.ts): every command bounded by a
   *  timeout and failing at once while disconnected. The limiter never creates or closes it. */
  redis: RedisClient;
  /** REDIS_KEY_PREFIX: every key starts with it (the ACL grants nothing else). */
  keyPrefix: string;
  /** The policies in force (config.rateLimits). Default: the table without overrides. */
  policies?: RateLimitPolicies;
  /** Where the rate-limit metrics are registered (the service's registry). */
  registry: Registry;
  /** Told once when Redis stops answering checks and once when it answers again. */
  logger?: Logger;
  /** Subjects the in-process fallback remembers. Default: rateLimitRuntime.fallbackMaxSubjects. */
  fallbackMaxSubjects?: number;
  /** The state Redis' breaker (same client). Without one, a hung Redis costs every check a
   *  command timeout; with one, only the checks that open it, then one probe per cooldown. */
  breaker?: RedisBreaker;
}

/** Units a request may cost at most: what an idle subject can spend at once. */
function capacityOf(policy: RateLimitPolicy): number {
  return policy.algorithm === 'gcra' ? (policy.burst ?? policy.limit) : policy.limit;
}

/** What a policy needs on every check, computed once: this is the request hot path. */
interface PreparedPolicy {
  policy: RateLimitPolicy;
  capacity: number;
  /** The key is keyHead + encoded subject + keyTail (see rate-limit-key.ts). */
  keyHead: string;
  keyTail: string;
  /** gcra: microseconds per unit and of the whole burst (the script's arguments). */
  intervalUs: number;
  capacityUs: number;
  metrics: PolicyMetrics;
}

/**
 * Rate limits shared by every instance: each check is one atomic Lua script on Redis (one
 * round trip, EVALSHA), on Redis' clock. When Redis cannot answer, `open` policies admit and
 * `closed` policies fall back to an in-process limiter of the same limits.
 */
export class RateLimiter {
  readonly policies: RateLimitPolicies;
  readonly #prepared: Record<RateLimitPolicyName, PreparedPolicy>;
  readonly #redis: RedisClient;
  readonly #fallback: InProcessRateLimiter;
  readonly #breaker: RedisBreaker | undefined;
  readonly #logger: Logger | undefined;
  readonly #gcraScript: RateLimitScript;
  readonly #logScript: RateLimitScript;
  /** Unique per process: with a counter it makes sorted-set members unique across instances. */
  readonly #processToken = randomBytes(6).toString('base64url');
  #sequence = 0;
  #redisAnswering = true;

  constructor(options: RateLimiterOptions) {
    this.#redis = options.redis;
    if (options.breaker && options.breaker.redis !== options.redis) {
      // A breaker judges one Redis: the cache's would open and close on the wrong one's health.
      throw new TypeError('the rate limiter breaker must guard the same Redis client');
    }
    this.#breaker = options.breaker;
    this.policies = options.policies ?? resolveRateLimitPolicies();
    const metrics = rateLimitMetrics(options.registry);
    this.#prepared = Object.fromEntries(
      (Object.keys(this.policies) as RateLimitPolicyName[]).map((name) => {
        const policy = this.policies[name];
        const { intervalMs, capacityMs } = gcraShape(policy);
        const prepared: PreparedPolicy = {
          policy,
          capacity: capacityOf(policy),
          ...rateLimitKeyParts(options.keyPrefix, name, policy.algorithm),
          intervalUs: intervalMs * 1000,
          capacityUs: capacityMs * 1000,
          metrics: metrics.forPolicy(name, policy.algorithm, policy.failureMode),
        };
        return [name, prepared];
      }),
    ) as Record<RateLimitPolicyName, PreparedPolicy>;
    this.#fallback = new InProcessRateLimiter(
      options.fallbackMaxSubjects ?? rateLimitRuntime.fallbackMaxSubjects,
    );
    this.#logger = options.logger?.child({ component: 'rate-limit' });
    defineRateLimitScripts(this.#redis);
    this.#gcraScript = rateLimitScript(this.#redis, 'gcra');
    this.#logScript = rateLimitScript(this.#redis, 'sliding-window-log');
    if (connectionOptions(this.#redis).commandTimeout === undefined) {
      // A common misuse: a queue or subscriber client. A hung Redis would then hang requests.
      this.#logger?.warn(
        'rate limiter got a Redis client without commandTimeout; use a `command` role client so a hung Redis cannot hang requests',
      );
    }
  }

  /**
   * Spends `cost` units of `subject`'s budget under `policyName`, or spends nothing and
   * rejects if they do not fit. Never throws for Redis trouble (see failure modes); throws
   * RateLimitCostError for a cost the policy could never admit, and RangeError for an empty
   * subject. One async frame on purpose: this runs on every API request.
   */
  async check(
    policyName: RateLimitPolicyName,
    subject: string,
    cost = 1,
  ): Promise<RateLimitDecision> {
    const prepared = this.#prepared[policyName];
    const { policy } = prepared;
    if (!Number.isInteger(cost) || cost < 1 || cost > prepared.capacity) {
      throw new RateLimitCostError(policyName, cost, prepared.capacity);
    }
    const key = prepared.keyHead + encodeSubject(subject) + prepared.keyTail;
    const started = performance.now();

    let raw: RawDecision | undefined;
    let source: RateLimitDecisionSource = 'redis';
    // Not connected: do not even try. A client without an offline queue would refuse at once
    // anyway; one with a queue would make the request wait for a reconnect.
    if (this.#redis.status !== 'ready') {
      this.#redisFailed(`connection is ${this.#redis.status}`);
    } else {
      try {
        const script = () =>
          policy.algorithm === 'gcra'
            ? this.#checkGcra(key, prepared, cost)
            : this.#checkLog(key, policy, cost);
        raw = await (this.#breaker ? this.#breaker.run(script) : script());
        if (!this.#redisAnswering) this.#redisAnswered();
      } catch (error) {
        this.#redisFailed(error instanceof Error ? error.message : String(error));
      }
    }
    if (!raw) {
      prepared.metrics.fellBack();
      if (policy.failureMode === 'closed') {
        raw = this.#fallback.check(key, policy, cost);
        source = 'fallback';
      } else {
        raw = {
          admitted: true,
          remaining: prepared.capacity - cost,
          retryAfterMs: 0,
          nextUnitMs: 0,
        };
        source = 'unchecked';
      }
    }
    prepared.metrics.observeCheckSeconds((performance.now() - started) / 1000);
    if (raw.admitted) prepared.metrics.allowed();
    else prepared.metrics.rejected();
    return {
      policy: policyName,
      allowed: raw.admitted,
      limit: policy.limit,
      windowMs: policy.windowMs,
      remaining: raw.remaining,
      retryAfterMs: Math.ceil(raw.retryAfterMs),
      resetMs: Math.ceil(raw.nextUnitMs),
      source,
    };
  }

  #checkGcra(key: string, prepared: PreparedPolicy, cost: number): Promise<RawDecision> {
    return this.#gcraScript(key, cost * prepared.intervalUs, prepared.capacityUs).then((reply) => {
      const [admitted, aheadUs] = checkedReply('gcra', reply);
      return gcraOutcome(prepared.policy, cost, admitted === 1, aheadUs / 1000);
    });
  }

  #checkLog(key: string, policy: RateLimitPolicy, cost: number): Promise<RawDecision> {
    const token = `${this.#processToken}${(this.#sequence++).toString(36)}`;
    return this.#logScript(key, policy.limit, policy.windowMs * 1000, cost, token).then((reply) => {
      const [admitted, remaining, retryAfterUs, nextUnitUs] = checkedReply(
        'sliding-window-log',
        reply,
      );
      return {
        admitted: admitted === 1,
        remaining,
        retryAfterMs: retryAfterUs / 1000,
        nextUnitMs: nextUnitUs / 1000,
      };
    });
  }

  #redisFailed(reason: string) {
    if (!this.#redisAnswering) return;
    this.#redisAnswering = false;
    this.#logger?.warn(
      { err: reason },
      'rate limits degraded: Redis is not answering; open policies admit, closed policies limit per process',
    );
  }

  #redisAnswered() {
    this.#redisAnswering = true;
    this.#logger?.info('rate limits shared through Redis again');
  }
}

export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  return new RateLimiter(options);
}
