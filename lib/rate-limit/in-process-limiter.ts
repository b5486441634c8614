import type { RateLimitPolicy } from '../policy/rate-limit.policies.js';
import { gcraOutcome, gcraShape, type RawDecision } from './rate-limit-decision.js';

interface Entry {
  /** Milliseconds on this limiter's clock after which the entry carries no information. */
  expiresAt: number;
  /** gcra: theoretical arrival time. */
  tat: number;
  /** sliding-window-log: admission time of every unit still in the window, oldest first. */
  log: number[];
}

/**
 * The fallback of `closed` policies while Redis cannot answer: the same algorithms and limits,
 * held in this process. It is per process by nature (N instances admit up to N times a limit
 * between them), which is the point: an outage must mean "limited per instance", never
 * "unlimited" and never "everyone refused".
 *
 * Memory is bounded: at most `maxSubjects` entries, least recently used evicted first (a Map
 * keeps insertion order; an entry is re-inserted on every use). Time is the monotonic clock, so
 * a wall-clock step cannot release or freeze anyone.
 */
export class InProcessRateLimiter {
  readonly #entries = new Map<string, Entry>();

  constructor(
    private readonly maxSubjects: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  check(key: string, policy: RateLimitPolicy, cost: number): RawDecision {
    const now = this.clock();
    let entry = this.#entries.get(key);
    if (entry) this.#entries.delete(key);
    if (!entry || entry.expiresAt <= now) entry = { expiresAt: now, tat: now, log: [] };
    const decision =
      policy.algorithm === 'gcra'
        ? checkGcra(entry, policy, cost, now)
        : checkLog(entry, policy, cost, now);
    if (entry.expiresAt > now) {
      if (this.#entries.size >= this.maxSubjects) {
        const leastRecentlyUsed = this.#entries.keys().next();
        if (!leastRecentlyUsed.done) this.#entries.delete(leastRecentlyUsed.value);
      }
      this.#entries.set(key, entry);
    }
    return decision;
  }

  /** Drops a subject that will not come back (a closed connection), freeing its entry now. */
  forget(key: string): void {
    this.#entries.delete(key);
  }
}

/** The same steps as gcra-1.lua, on this process's monotonic clock. */
function checkGcra(entry: Entry, policy: RateLimitPolicy, cost: number, now: number) {
  const { intervalMs, capacityMs } = gcraShape(policy);
  const tat = Math.max(entry.tat, now);
  const newTat = tat + cost * intervalMs;
  if (newTat - capacityMs - now > 1e-3) return gcraOutcome(policy, cost, false, tat - now);
  entry.tat = newTat;
  entry.expiresAt = newTat;
  return gcraOutcome(policy, cost, true, newTat - now);
}

/** The same steps as sliding-window-log-1.lua, on this process's monotonic clock. */
function checkLog(entry: Entry, policy: RateLimitPolicy, cost: number, now: number) {
  const { log } = entry;
  // The window is (now - windowMs, now], as in the Lua script.
  let expired = 0;
  while (expired < log.length && (log[expired] ?? now) <= now - policy.windowMs) expired++;
  if (expired > 0) log.splice(0, expired);
  const used = log.length;
  const untilLeaves = (rank: number) => (log[rank] ?? now) + policy.windowMs - now;
  if (used + cost > policy.limit) {
    return {
      admitted: false,
      remaining: policy.limit - used,
      retryAfterMs: untilLeaves(used + cost - policy.limit - 1),
      nextUnitMs: untilLeaves(0),
    };
  }
  for (let i = 0; i < cost; i++) log.push(now);
  entry.expiresAt = now + policy.windowMs;
  return {
    admitted: true,
    remaining: policy.limit - used - cost,
    retryAfterMs: 0,
    nextUnitMs: untilLeaves(0),
  };
}
