import type { Registry } from 'prom-client';

/**
 * Makes `create(registry)` once per registry and hands the same metrics to every later caller
 * on that registry: prom-client refuses a metric name twice on one registry, and every
 * component of a process reports on its one registry.
 */
export function metricsPerRegistry<Metrics>(
  create: (registry: Registry) => Metrics,
): (registry: Registry) => Metrics {
  const made = new WeakMap<Registry, Metrics>();
  return (registry) => {
    let metrics = made.get(registry);
    if (!metrics) {
      metrics = create(registry);
      made.set(registry, metrics);
    }
    return metrics;
  };
}
