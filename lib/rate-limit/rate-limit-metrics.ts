import { Counter, type Registry } from 'prom-client';
import { HotPathHistogram } from '../observability/hot-path-histogram.js';

import { metricsPerRegistry } from '../observability/metrics-per-registry.js';

/** The instruments of one policy, bound once so that a check does no label lookups. */
export interface PolicyMetrics {
  allowed(): void;
  rejected(): void;
  /** A decision taken without Redis. */
  fellBack(): void;
  observeCheckSeconds(seconds: number): void;
}

interface Tally {
  policy: string;
  failureMode: string;
  allowed: number;
  rejected: number;
  fellBack: number;
}

/**
 * The rate-limit metrics of one registry:
 * - `rate_limit_decisions_total{policy,result="allowed"|"rejected"}`: every decision, whoever
 *   made it;
 * - `rate_limit_check_duration_seconds{policy,algorithm}`: one check, Redis round trip
 *   included (or the failed attempt and the fallback, when Redis cannot answer);
 * - `rate_limit_fallback_decisions_total{policy,failure_mode}`: decisions taken without Redis
 *   (`open`: admitted unchecked; `closed`: decided by the in-process limiter). Non-zero means
 *   limits are per instance right now.
 *
 * A check runs on every API request, so the counters are plain numbers on the hot path, added
 * to the Prometheus counters when they are collected (a scrape): prom-client's labelled inc()
 * hashes its labels on every call, which the benchmark (docs/performance.md) showed as a
 * visible share of a check's CPU. For the same reason the histogram is a HotPathHistogram,
 * bound to each policy's labels once.
 */
export class RateLimitMetrics {
  readonly #tallies = new Map<string, Tally>();
  readonly #checkDuration: HotPathHistogram<'policy' | 'algorithm'>;

  constructor(registry: Registry) {
    const tallies = this.#tallies;
    // The counters live on the registry; they read the tallies when collected.
    new Counter({
      name: 'rate_limit_decisions_total',
      help: 'Rate-limit decisions by policy and result (allowed or rejected)',
      labelNames: ['policy', 'result'] as const,
      registers: [registry],
      collect() {
        for (const tally of tallies.values()) {
          if (tally.allowed > 0)
            this.inc({ policy: tally.policy, result: 'allowed' }, tally.allowed);
          if (tally.rejected > 0) {
            this.inc({ policy: tally.policy, result: 'rejected' }, tally.rejected);
          }
          tally.allowed = 0;
          tally.rejected = 0;
        }
      },
    });
    new Counter({
      name: 'rate_limit_fallback_decisions_total',
      help: 'Rate-limit decisions taken without Redis, by policy and failure mode',
      labelNames: ['policy', 'failure_mode'] as const,
      registers: [registry],
      collect() {
        for (const tally of tallies.values()) {
          if (tally.fellBack > 0) {
            this.inc({ policy: tally.policy, failure_mode: tally.failureMode }, tally.fellBack);
          }
          tally.fellBack = 0;
        }
      },
    });
    this.#checkDuration = new HotPathHistogram({
      name: 'rate_limit_check_duration_seconds',
      help: 'Latency of one rate-limit check by policy and algorithm',
      labelNames: ['policy', 'algorithm'] as const,
      // A check is one Redis round trip: tens to hundreds of microseconds on a LAN; the top
      // buckets catch the command timeout (policy.redis.commandTimeoutMs, 300 ms).
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5],
      registers: [registry],
    });
  }

  forPolicy(policy: string, algorithm: string, failureMode: string): PolicyMetrics {
    const id = `${policy}\n${failureMode}`;
    let tally = this.#tallies.get(id);
    if (!tally) {
      tally = { policy, failureMode, allowed: 0, rejected: 0, fellBack: 0 };
      this.#tallies.set(id, tally);
    }
    const counts = tally;
    const observeCheckSeconds = this.#checkDuration.bind({ policy, algorithm });
    return {
      allowed: () => {
        counts.allowed++;
      },
      rejected: () => {
        counts.rejected++;
      },
      fellBack: () => {
        counts.fellBack++;
      },
      observeCheckSeconds,
    };
  }
}

/** The rate-limit metrics registered on `registry` (the service's, so /metrics shows them),
 *  shared by every limiter on it. */
export const rateLimitMetrics = metricsPerRegistry((registry) => new RateLimitMetrics(registry));
