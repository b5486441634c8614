import { Counter, type Registry } from 'prom-client';
import { metricsPerRegistry } from '../observability/metrics-per-registry.js';

/** The counters of one namespace, bound once so that a read does no label lookups. */
export interface NamespaceMetrics {
  hit(count?: number): void;
  miss(count?: number): void;
  /** A Redis operation of the cache that failed or was refused, or an entry it could not read
   *  or write (a codec error). */
  error(): void;
}

interface Tally {
  hits: number;
  misses: number;
  errors: number;
}

/**
 * The cache metrics of one registry, labelled by namespace (`cache`):
 * - `cache_requests_total{cache,result="hit"|"miss"}`: one per id asked for (get: one; getMany:
 *   one per distinct id). A hit was answered from Redis (a cached "not found" included); a miss
 *   was answered by the loader, whether the entry was missing, Redis could not answer, or the
 *   caller joined another caller's load of the same key.
 * - `cache_errors_total{cache}`: see NamespaceMetrics.error. Non-zero while the cache Redis is
 *   down or hung (every read then falls back to PostgreSQL).
 *
 * Hit ratio per namespace (PromQL), the figure to watch on the dashboard:
 *   sum by (cache) (rate(cache_requests_total{result="hit"}[5m]))
 *     / sum by (cache) (rate(cache_requests_total[5m]))
 *
 * Reads happen on every request, so the counts are plain numbers added to the Prometheus
 * counters at scrape time (the same reason as lib/rate-limit/rate-limit-metrics.ts).
 */
export class CacheMetrics {
  readonly #tallies = new Map<string, Tally>();

  constructor(registry: Registry) {
    const tallies = this.#tallies;
    new Counter({
      name: 'cache_requests_total',
      help: 'Cache-aside reads by namespace and result (hit or miss)',
      labelNames: ['cache', 'result'] as const,
      registers: [registry],
      collect() {
        for (const [cache, tally] of tallies) {
          // Both series always exist, so the hit ratio is defined from the first scrape.
          this.inc({ cache, result: 'hit' }, tally.hits);
          this.inc({ cache, result: 'miss' }, tally.misses);
          tally.hits = 0;
          tally.misses = 0;
        }
      },
    });
    new Counter({
      name: 'cache_errors_total',
      help: 'Cache operations that failed or were refused (Redis down, hung, breaker open)',
      labelNames: ['cache'] as const,
      registers: [registry],
      collect() {
        for (const [cache, tally] of tallies) {
          this.inc({ cache }, tally.errors);
          tally.errors = 0;
        }
      },
    });
  }

  forNamespace(cache: string): NamespaceMetrics {
    let tally = this.#tallies.get(cache);
    if (!tally) {
      tally = { hits: 0, misses: 0, errors: 0 };
      this.#tallies.set(cache, tally);
    }
    const counts = tally;
    return {
      hit: (count = 1) => {
        counts.hits += count;
      },
      miss: (count = 1) => {
        counts.misses += count;
      },
      error: () => {
        counts.errors++;
      },
    };
  }
}

/** The cache metrics on `registry`, shared by every CacheAside on it. */
export const cacheMetrics = metricsPerRegistry((registry) => new CacheMetrics(registry));
