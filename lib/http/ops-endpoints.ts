import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { evaluateReadiness, type ReadinessCheck } from '../health/readiness.js';
import { sendProblem } from './problem.js';
import { problemFor } from './problem-codes.js';

export interface OpsEndpoints {
  /** Answers /healthz, /readyz and /metrics; returns false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** From now on /readyz answers 503 so that load balancers stop sending new work. */
  markDraining(): void;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/**
 * The operational endpoints every Quad service serves, framework-free so the api (Express),
 * the socket gateway (Socket.IO's HTTP server) and the worker (a bare HTTP server) share them.
 * - /healthz: the process is alive (event loop turning). Never touches a dependency.
 * - /readyz: 200 `ready` or `degraded` (Redis down, PostgreSQL fine: still serving), 503
 *   `unavailable` (PostgreSQL down, migrations pending) or `draining` (shutting down).
 * - /metrics: Prometheus text format.
 * /healthz and /readyz name the `instance` that answered (host name and pid: a container's host
 * name is its id), so an operator looking at one of several replicas knows which one it is.
 */
export function createOpsEndpoints(options: {
  service: string;
  registry: Registry;
  checks: readonly ReadinessCheck[];
}): OpsEndpoints {
  const { service, registry, checks } = options;
  const instance = `${hostname()}:${process.pid}`;
  let draining = false;

  return {
    markDraining() {
      draining = true;
    },
    handle(req, res) {
      const path = (req.url ?? '/').split('?', 1)[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      switch (path) {
        case '/healthz':
          sendJson(res, 200, {
            status: 'ok',
            service,
            instance,
            uptimeSeconds: Math.round(process.uptime()),
          });
          return true;
        case '/readyz':
          if (draining) {
            sendJson(res, 503, { status: 'draining', service, instance });
            return true;
          }
          evaluateReadiness(checks).then(
            (report) =>
              sendJson(res, report.status === 'unavailable' ? 503 : 200, {
                service,
                instance,
                ...report,
              }),
            (error: unknown) => sendJson(res, 500, { status: 'error', error: String(error) }),
          );
          return true;
        case '/metrics':
          registry.metrics().then(
            (text) => {
              res.writeHead(200, { 'content-type': registry.contentType });
              res.end(text);
            },
            (error: unknown) => sendJson(res, 500, { status: 'error', error: String(error) }),
          );
          return true;
        default:
          return false;
      }
    },
  };
}

/** An HTTP server that serves only the ops endpoints (and lets Socket.IO attach its own
 *  paths); anything else gets a problem+json 404. */
export function createOpsServer(ops: OpsEndpoints): Server {
  return createServer((req, res) => {
    if (ops.handle(req, res)) return;
    sendProblem(res, problemFor('not_found'));
  });
}
