import type { NextFunction, Request, Response } from 'express';
import type { Registry } from 'prom-client';
import { HotPathHistogram } from '../observability/hot-path-histogram.js';

/**
 * `http_request_duration_seconds{method,route,status_code}`. The route label is the matched
 * route pattern (`/api/v1/conversations/:id`), never the raw URL, so cardinality stays bounded.
 * Observed on every request, hence a HotPathHistogram (prom-client's own hashes its labels on
 * each observation).
 */
export function httpMetricsMiddleware(registry: Registry) {
  const histogram = new HotPathHistogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, matched route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    res.once('finish', () => {
      const routePath: unknown = req.route?.path;
      const route = typeof routePath === 'string' ? `${req.baseUrl}${routePath}` : 'unmatched';
      histogram.observe(
        { method: req.method, route, status_code: String(res.statusCode) },
        (performance.now() - started) / 1000,
      );
    });
    next();
  };
}
