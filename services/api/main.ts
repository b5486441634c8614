import { createServer } from 'node:http';
import { closeHttpServer } from '../../lib/lifecycle/http-server.js';
import { createRateLimiter } from '../../lib/rate-limit/index.js';
import { createDomainServices } from '../../lib/runtime/domain-services.js';
import { startServiceRuntime } from '../../lib/runtime/service-runtime.js';
import { readPackageVersion } from '../../lib/runtime/version.js';
import { accountsAuthenticator, accountsCapability } from './accounts/accounts.capability.js';
import { createApiApp } from './api-app.js';
import { conversationsCapability } from './conversations/conversations.capability.js';

// Composition root of the api service: the only place that reads configuration and creates
// clients for it; everything below receives what it needs.
const runtime = startServiceRuntime('api');
const { config, logger, metrics, ops, shutdown } = runtime;

const rateLimiter = createRateLimiter({
  redis: runtime.redis.state,
  keyPrefix: config.redis.keyPrefix,
  policies: config.rateLimits,
  registry: metrics,
  logger,
});

const { accounts, messaging } = createDomainServices(runtime);

const app = createApiApp({
  logger,
  metrics,
  ops,
  version: readPackageVersion(),
  rateLimiter,
  authenticator: accountsAuthenticator(accounts),
  capabilities: [
    accountsCapability(accounts, { rateLimiter, metrics }),
    conversationsCapability(messaging, { rateLimiter }),
  ],
});
const server = createServer(app);

shutdown
  .add('stop accepting and drain http requests', () => {
    ops.markDraining();
    return closeHttpServer(server);
  })
  .add('close redis and postgres', () => runtime.closeClients());

await runtime.listen(server);
