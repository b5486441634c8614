import type { RateLimitPolicy } from '../policy/rate-limit.policies.js';

/** What one check decided, in milliseconds; shared by the Redis and in-process paths. */
export interface RawDecision {
  admitted: boolean;
  remaining: number;
  /** 0 when admitted; otherwise how long until this same request would be admitted. */
  retryAfterMs: number;
  /** How long until at least one more unit is available; 0 when the budget is full. */
  nextUnitMs: number;
}

/** gcra's emission interval (ms per unit) and capacity (how far ahead its TAT may run). */
export function gcraShape(policy: RateLimitPolicy): { intervalMs: number; capacityMs: number } {
  const intervalMs = policy.windowMs / policy.limit;
  return { intervalMs, capacityMs: (policy.burst ?? policy.limit) * intervalMs };
}

/**
 * A gcra decision in full from the one number its state boils down to: how far the
 * theoretical arrival time (TAT) is ahead of now after the decision (`aheadMs`). Used for the
 * Redis script's reply and by the in-process fallback alike, so both report the same way.
 * - remaining: units that still fit before TAT would run more than `capacity` ahead;
 * - retry after (rejected): when TAT + cost * interval - capacity reaches now;
 * - next unit: units come back one per interval, at interval boundaries of `aheadMs`.
 */
export function gcraOutcome(
  policy: RateLimitPolicy,
  cost: number,
  admitted: boolean,
  aheadMs: number,
): RawDecision {
  const { intervalMs, capacityMs } = gcraShape(policy);
  // TAT is kept in whole microseconds, rounded up; the epsilon keeps that rounding from
  // turning 3 remaining units into 2.9999999 and reporting one too few.
  const remaining = Math.max(0, Math.floor((capacityMs - aheadMs) / intervalMs + 1e-6));
  const partial = aheadMs % intervalMs;
  return {
    admitted,
    remaining,
    retryAfterMs: admitted ? 0 : Math.max(0, aheadMs + cost * intervalMs - capacityMs),
    nextUnitMs: aheadMs <= 0 ? 0 : partial < 1e-3 ? intervalMs : partial,
  };
}
