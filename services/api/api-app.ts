import express from 'express';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { type ApiRoute, defineRoute, mountRoutes } from '../../lib/http/api-route.js';
import { problemErrorHandler } from '../../lib/http/error-handler.js';
import { httpMetricsMiddleware } from '../../lib/http/http-metrics.js';
import { buildOpenApiDocument } from '../../lib/http/openapi-document.js';
import type { OpsEndpoints } from '../../lib/http/ops-endpoints.js';
import { sendProblem } from '../../lib/http/problem.js';
import { problemFor } from '../../lib/http/problem-codes.js';
import type { Logger } from '../../lib/observability/logger.js';
import { policy } from '../../lib/policy/policy.js';
import { type RateLimiter, rateLimitMiddleware } from '../../lib/rate-limit/index.js';
import type { ApiCapability } from './api-capability.js';
import { authenticationProblems } from './api-errors.js';
import {
  type Authenticator,
  authenticate,
  principalOf,
  rejectInvalidCredentials,
  security,
  securitySchemes,
} from './authentication.js';

export const API_BASE_PATH = '/api/v1';

export interface ApiDependencies {
  logger: Logger;
  metrics: Registry;
  ops: OpsEndpoints;
  version: string;
  rateLimiter: RateLimiter;
  /** Checks session tokens and API keys. Without it every request is anonymous (the bare
   *  shell, as the rate-limit tests run it). */
  authenticator?: Authenticator;
  /** The capabilities whose routes the api serves, in mounting order. */
  capabilities?: readonly ApiCapability[];
}

/** The routes every api serves whatever its capabilities: the index and the OpenAPI document. */
function coreRoutes(version: string, openApiDocument: () => Record<string, unknown>): ApiRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/',
      operationId: 'index',
      summary: 'Which API this is',
      tags: ['meta'],
      security: security.public,
      authorize: [],
      success: {
        status: 200,
        description: 'Name and version',
        body: z.object({ name: z.string(), version: z.string(), api: z.string() }),
      },
      handle: () => ({ name: 'quad', version, api: 'v1' }),
    }),
    defineRoute({
      method: 'get',
      path: '/openapi.json',
      operationId: 'openApiDocument',
      summary: 'This OpenAPI 3.1 document, generated from the validation schemas',
      tags: ['meta'],
      security: security.public,
      authorize: [],
      success: {
        status: 200,
        description: 'The document',
        body: z.record(z.string(), z.unknown()),
      },
      handle: () => openApiDocument(),
    }),
  ];
}

/** The api's HTTP surface. Receives everything it needs; creates no clients of its own. */
export function createApiApp(deps: ApiDependencies) {
  const { logger, metrics, ops, version, rateLimiter, capabilities = [] } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');

  app.use((req, res, next) => {
    if (!ops.handle(req, res)) next();
  });
  app.use(httpMetricsMiddleware(metrics));

  let openApiDocument: Record<string, unknown> = {};
  const routes: ApiRoute[] = [
    ...coreRoutes(version, () => openApiDocument),
    ...capabilities.flatMap((capability) => capability.routes),
  ];
  const signedGroups = capabilities.flatMap((capability) =>
    capability.signedRoutes ? [capability.signedRoutes] : [],
  );
  routes.push(...signedGroups.flatMap((group) => group.routes));
  // Built once, from the same route table that is mounted below: it cannot miss a route.
  openApiDocument = {
    ...buildOpenApiDocument(routes, {
      title: 'Quad API',
      version,
      description:
        'Errors are RFC 9457 application/problem+json with a stable `code`. Every request spends a rate-limit budget (RateLimit-Policy and RateLimit headers).',
      basePath: API_BASE_PATH,
      securitySchemes,
    }),
  };

  // Every router under one mount of the base path: routers mounted side by side at the same
  // path made OpenTelemetry's express instrumentation add the path once per router a request
  // passed through (span names like `POST /api/v1/api/v1/...`).
  const base = express.Router();
  for (const group of signedGroups) {
    // The group's limit goes on its own routes, not on the router: a router-wide middleware
    // runs for every request that passes through the router, so every API request would
    // spend (and, from a busy address, exhaust) the signed senders' budget.
    const limit = rateLimitMiddleware(rateLimiter, {
      policy: group.rateLimitPolicy,
      subject: (req) => req.ip,
    });
    mountRoutes(
      base,
      group.routes.map((route) => ({ ...route, handlers: [limit, ...route.handlers] })),
    );
  }

  const v1 = express.Router();
  if (deps.authenticator) v1.use(authenticate(deps.authenticator));
  // Every request spends exactly one general budget: its API key's, its user's, or (without
  // valid credentials) its address's. Unknown routes included: scanning is what limits are for.
  v1.use(
    rateLimitMiddleware(rateLimiter, {
      policy: 'api-key',
      subject: (req) => {
        const credential = principalOf(req)?.credential;
        return credential?.kind === 'apiKey' ? credential.apiKeyId : undefined;
      },
    }),
  );
  v1.use(
    rateLimitMiddleware(rateLimiter, {
      policy: 'api-user',
      subject: (req) => {
        const principal = principalOf(req);
        return principal?.credential.kind === 'session' ? principal.userId : undefined;
      },
    }),
  );
  v1.use(
    rateLimitMiddleware(rateLimiter, {
      policy: 'api-anonymous',
      subject: (req) => (principalOf(req) ? undefined : req.ip),
    }),
  );
  v1.use(rejectInvalidCredentials);
  v1.use(express.json({ limit: policy.http.maxJsonBodyBytes }));
  mountRoutes(v1, routes);
  base.use(v1);
  app.use(API_BASE_PATH, base);

  app.use((req, res) => {
    sendProblem(res, problemFor('not_found', { detail: `No route for ${req.method} ${req.path}` }));
  });

  app.use(
    problemErrorHandler({
      logger,
      mappers: [
        authenticationProblems,
        ...capabilities.flatMap((capability) => (capability.problems ? [capability.problems] : [])),
      ],
    }),
  );

  return app;
}
