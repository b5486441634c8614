import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import express from 'express';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createOpsEndpoints } from '../../lib/http/ops-endpoints.js';
import { createLogger } from '../../lib/observability/logger.js';
import { type RateLimitOverrides, resolveRateLimitPolicies } from '../../lib/rate-limit/index.js';
import { rateLimitMiddleware } from '../../lib/rate-limit/rate-limit-middleware.js';
import { RateLimiter } from '../../lib/rate-limit/rate-limiter.js';
import { createApiApp } from '../../services/api/api-app.js';
import { sharedServers, uniqueName } from '../harness/test-environment.js';

async function listen(app: express.Express): Promise<{ server: Server; baseUrl: string }> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, baseUrl: `http://127.0.0.1:${port}` };
}

// Real Express servers on real ports, limiting through the shared real Redis as the api user.
describe('rate-limit HTTP middleware', () => {
  const servers = sharedServers();
  const keyPrefix = `quad:${uniqueName('rlh')}:`;
  const clients: Redis[] = [];
  const httpServers: Server[] = [];

  const limiter = async (overrides: RateLimitOverrides, registry = new Registry()) => {
    const redis = new Redis({
      port: servers.redis.port,
      username: 'api',
      password: servers.redis.passwords.api,
      commandTimeout: 1_000,
      enableOfflineQueue: false,
    });
    clients.push(redis);
    await new Promise((resolve) => redis.once('ready', resolve));
    return new RateLimiter({
      redis,
      keyPrefix,
      policies: resolveRateLimitPolicies(overrides),
      registry,
    });
  };

  after(async () => {
    for (const server of httpServers) {
      server.closeAllConnections();
      server.close();
    }
    for (const client of clients) client.disconnect();
  });

  it('the api app: /api/v1 carries RateLimit headers, then answers 429 problem+json', async () => {
    const registry = new Registry();
    const rateLimiter = await limiter(
      // 3 per minute, 2 at once: one unit back every 20 s.
      { 'api-anonymous': { limit: 3, windowMs: 60_000, burst: 2 } },
      registry,
    );
    const app = createApiApp({
      logger: createLogger('api', 'silent'),
      metrics: registry,
      ops: createOpsEndpoints({ service: 'api', registry, checks: [] }),
      version: '0.0.0-test',
      rateLimiter,
    });
    const { server, baseUrl } = await listen(app);
    httpServers.push(server);

    const first = await fetch(`${baseUrl}/api/v1`);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('ratelimit-policy'), '"api-anonymous";q=3;w=60;quad-burst=2');
    assert.equal(first.headers.get('ratelimit'), '"api-anonymous";r=1;t=20');

    const second = await fetch(`${baseUrl}/api/v1/no-such-route`);
    assert.equal(second.status, 404, 'unknown routes spend the budget too');
    assert.equal(second.headers.get('ratelimit'), '"api-anonymous";r=0;t=20');

    const third = await fetch(`${baseUrl}/api/v1`);
    assert.equal(third.status, 429);
    assert.equal(third.headers.get('content-type'), 'application/problem+json');
    assert.equal(third.headers.get('retry-after'), '20');
    assert.equal(third.headers.get('ratelimit'), '"api-anonymous";r=0;t=20');
    assert.equal(third.headers.get('ratelimit-policy'), '"api-anonymous";q=3;w=60;quad-burst=2');
    const body = (await third.json()) as Record<string, unknown>;
    assert.deepEqual(body, {
      type: 'https://quad.dev/problems/rate_limited',
      status: 429,
      code: 'rate_limited',
      title: 'Too Many Requests',
      detail: 'Rate limit "api-anonymous" exceeded (3 per 60 s); retry in 20 s.',
      policy: 'api-anonymous',
      retryAfterSeconds: 20,
      'violated-policies': ['api-anonymous'],
    });

    // Operational endpoints are never limited: probes must not be refused under load.
    const health = await fetch(`${baseUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(health.headers.get('ratelimit'), null);
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    assert.match(
      metrics,
      /rate_limit_decisions_total\{policy="api-anonymous",result="allowed"\} 2/,
    );
    assert.match(
      metrics,
      /rate_limit_decisions_total\{policy="api-anonymous",result="rejected"\} 1/,
    );
  });

  it('a burst of logins from one address gets 429 on any instance: the budget is shared', async () => {
    const overrides: RateLimitOverrides = { 'login-ip': { limit: 5, windowMs: 60_000 } };
    // Two api instances: separate processes' worth of state (own limiter, own Redis client),
    // one Redis between them.
    const instances = await Promise.all(
      [0, 1].map(async () => {
        const rateLimiter = await limiter(overrides);
        const app = express();
        app.set('trust proxy', 'loopback');
        app.post(
          '/login',
          rateLimitMiddleware(rateLimiter, { policy: 'login-ip', subject: (req) => req.ip }),
          (_req, res) => {
            res.status(401).json({ code: 'invalid_credentials' });
          },
        );
        const { server, baseUrl } = await listen(app);
        httpServers.push(server);
        return baseUrl;
      }),
    );
    const statuses: number[] = [];
    const remaining: Array<string | null> = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const response = await fetch(`${instances[attempt % 2]}/login`, { method: 'POST' });
      statuses.push(response.status);
      remaining.push(response.headers.get('ratelimit'));
      if (response.status === 429) {
        const retryAfter = Number(response.headers.get('retry-after'));
        assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
        assert.equal(response.headers.get('ratelimit-policy'), '"login-ip";q=5;w=60');
        assert.match(response.headers.get('ratelimit') ?? '', /^"login-ip";r=0;t=(60|59)$/);
      }
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    assert.deepEqual(
      remaining.slice(0, 5).map((value) => /;r=(\d+);/.exec(value ?? '')?.[1]),
      ['4', '3', '2', '1', '0'],
    );
  });

  it('several policies on one request append list members; cost and skip are honoured', async () => {
    const rateLimiter = await limiter({
      'api-user': { limit: 10, windowMs: 10_000, burst: 10 },
      'api-key': { limit: 100, windowMs: 60_000, burst: 50 },
    });
    const app = express();
    app.get(
      '/export',
      rateLimitMiddleware(rateLimiter, {
        policy: 'api-key',
        subject: (req) => req.get('x-api-key-id'),
      }),
      rateLimitMiddleware(rateLimiter, {
        policy: 'api-user',
        subject: (req) => req.get('x-user-id'),
        cost: () => 4,
      }),
      (_req, res) => {
        res.json({ ok: true });
      },
    );
    const { server, baseUrl } = await listen(app);
    httpServers.push(server);

    const both = await fetch(`${baseUrl}/export`, {
      headers: { 'x-api-key-id': 'key-1', 'x-user-id': 'user-1' },
    });
    assert.equal(both.status, 200);
    assert.equal(
      both.headers.get('ratelimit-policy'),
      '"api-key";q=100;w=60;quad-burst=50, "api-user";q=10;w=10;quad-burst=10',
    );
    assert.equal(both.headers.get('ratelimit'), '"api-key";r=49;t=1, "api-user";r=6;t=1');

    // No user on the request: the per-user policy is skipped, not applied to "undefined".
    const keyOnly = await fetch(`${baseUrl}/export`, { headers: { 'x-api-key-id': 'key-1' } });
    assert.equal(keyOnly.headers.get('ratelimit'), '"api-key";r=48;t=1');

    // Cost 4 against 6 left, then 2 left: the third is refused and spends nothing.
    const headers = { 'x-user-id': 'user-1' };
    assert.equal((await fetch(`${baseUrl}/export`, { headers })).status, 200);
    const refused = await fetch(`${baseUrl}/export`, { headers });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('ratelimit'), '"api-user";r=2;t=1');
  });
});
