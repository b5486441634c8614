import express, { type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { httpMetricsMiddleware } from '../../lib/http/http-metrics.js';
import type { OpsEndpoints } from '../../lib/http/ops-endpoints.js';
import { sendProblem } from '../../lib/http/problem.js';
import type { Logger } from '../../lib/observability/logger.js';
import { type RateLimiter, rateLimitMiddleware } from '../../lib/rate-limit/index.js';

export interface ApiDependencies {
  logger: Logger;
  metrics: Registry;
  ops: OpsEndpoints;
  version: string;
  rateLimiter: RateLimiter;
}

/** The api's HTTP surface. Receives everything it needs; creates no clients of its own. */
export function createApiApp({ logger, metrics, ops, version, rateLimiter }: ApiDependencies) {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.use((req, res, next) => {
    if (!ops.handle(req, res)) next();
  });
  app.use(httpMetricsMiddleware(metrics));

  const v1 = express.Router();
  // Every API request spends its client address's budget, unknown routes included (scanning
  // is what the limit is for). The per-user and per-key policies join with authentication.
  v1.use(rateLimitMiddleware(rateLimiter, { policy: 'api-anonymous', subject: (req) => req.ip }));
  v1.get('/', (_req, res) => {
    res.json({ name: 'quad', version, api: 'v1' });
  });
  app.use('/api/v1', v1);

  app.use((req, res) => {
    sendProblem(res, {
      status: 404,
      code: 'not_found',
      title: 'Not Found',
      detail: `No route for ${req.method} ${req.path}`,
    });
  });

  // Express recognises error handlers by their four parameters.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status =
      typeof error === 'object' && error !== null && 'status' in error
        ? Number((error as { status: unknown }).status)
        : 500;
    if (status >= 400 && status < 500) {
      // Body-parser and similar client errors: the client's fault, said plainly.
      sendProblem(res, {
        status,
        code: 'bad_request',
        title: 'Bad Request',
        detail: error instanceof Error ? error.message : undefined,
      });
      return;
    }
    logger.error({ err: error, method: req.method, path: req.path }, 'unhandled request error');
    sendProblem(res, { status: 500, code: 'internal_error', title: 'Internal Server Error' });
  });

  return app;
}
