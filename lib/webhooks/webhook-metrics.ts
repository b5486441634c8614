import type { Pool } from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { webhookRepository } from './webhook.repository.js';

export type AttemptResult = 'succeeded' | 'retried' | 'dead' | 'skipped';

/** The worker's webhook metrics (docs/architecture.md, "Webhooks"). */
export class WebhookMetrics {
  readonly #attempts: Counter<'result'>;
  readonly #duration: Histogram<'outcome'>;

  constructor(registry: Registry, postgres: Pool) {
    this.#attempts = new Counter({
      name: 'webhook_delivery_attempts_total',
      help: 'Webhook delivery attempts by result: succeeded (2xx), retried (failed, another attempt scheduled), dead (failed, dead-lettered), skipped (already settled, webhook inactive)',
      labelNames: ['result'] as const,
      registers: [registry],
    });
    this.#duration = new Histogram({
      name: 'webhook_delivery_duration_seconds',
      help: 'Time of one webhook POST, connect to response headers (or timeout), by outcome',
      labelNames: ['outcome'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    let lastKnown = 0;
    new Gauge({
      name: 'webhook_dead_letters',
      help: 'Webhook deliveries in the dead-letter state now (retry or drop them: quad jobs)',
      registers: [registry],
      async collect() {
        // A scrape while PostgreSQL is away shows the last known count rather than failing.
        lastKnown = await webhookRepository.countDead(postgres).catch(() => lastKnown);
        this.set(lastKnown);
      },
    });
  }

  attempt(result: AttemptResult): void {
    this.#attempts.inc({ result });
  }

  observe(outcome: 'success' | 'failure', seconds: number): void {
    this.#duration.observe({ outcome }, seconds);
  }
}
