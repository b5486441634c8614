import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * A Prometheus registry per process: the default Node.js metrics (CPU, memory, event-loop lag,
 * GC) and everything the service adds, all labelled with `service` so one dashboard can tell
 * api, socket and worker apart.
 */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}
