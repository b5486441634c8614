import { createServer } from 'node:http';
import { Queue } from 'bullmq';
import { answerClientErrorsWithProblems } from '../../lib/http/client-errors.js';
import { closeHttpServer } from '../../lib/lifecycle/http-server.js';
import { queueTelemetry } from '../../lib/observability/trace-context.js';
import { queuePrefix } from '../../lib/redis/queue-prefix.js';
import { readPackageVersion, startServiceRuntime } from '../../lib/runtime/index.js';
import {
  DeliveryQueue,
  WEBHOOK_QUEUE,
  WebhookService,
  webhookSecretBox,
} from '../../lib/webhooks/index.js';
import { accountsAuthenticator, accountsCapability } from './accounts/accounts.capability.js';
import { createApiApp } from './api-app.js';
import { callsCapability } from './calls/calls.capability.js';
import { conversationsCapability } from './conversations/conversations.capability.js';
import { notificationsCapability } from './notifications/notifications.capability.js';
import { pollsCapability } from './polls/polls.capability.js';
import { presenceCapability } from './presence/presence.capability.js';
import { searchCapability } from './search/search.capability.js';
import { webhooksCapability } from './webhooks/webhooks.capability.js';

// Composition root of the api service: the only place that reads configuration and creates
// clients for it; everything below receives what it needs.
const runtime = startServiceRuntime('api');
const { config, logger, metrics, ops, shutdown } = runtime;

const rateLimiter = runtime.rateLimiter();
// What the api commits reaches the sockets of every gateway instance through the runtime's
// publisher (Redis).
const { accounts, messaging, polls, search, notifications } = runtime.domain();
// Presence is kept by the socket gateway in the state Redis; the api only reads it.
const presence = runtime.presence();
// Calls on LiveKit, when it is configured (LIVEKIT_API_KEY/SECRET).
const calls = runtime.calls();

// Webhooks are delivered by the worker; the api enqueues the retries admins ask for, on the
// state Redis client (fails fast when Redis is away; the worker's re-queue sweep then sends it).
const webhookQueue = new Queue(WEBHOOK_QUEUE, {
  connection: runtime.redis.state,
  prefix: queuePrefix(config.redis.keyPrefix),
  telemetry: queueTelemetry(),
});
webhookQueue.on('error', (error) => logger.debug({ err: error.message }, 'webhook queue error'));
const webhooks = new WebhookService({
  postgres: runtime.postgres,
  queue: new DeliveryQueue({ queue: webhookQueue, maxAttempts: config.webhooks.maxAttempts }),
  allowedHosts: config.webhooks.allowedHosts,
  secretBox: webhookSecretBox(config.webhooks.secretKeys),
  logger,
});
void webhooks.sealStoredSecrets();

const app = createApiApp({
  logger,
  metrics,
  ops,
  version: readPackageVersion(),
  rateLimiter,
  authenticator: accountsAuthenticator(accounts),
  capabilities: [
    accountsCapability(accounts, { rateLimiter, metrics }),
    conversationsCapability(messaging, {
      rateLimiter,
      liveCalls: calls && ((ids) => calls.service.liveCallMarkers(ids)),
    }),
    pollsCapability({ polls, conversations: messaging.conversations }),
    searchCapability({ search, conversations: messaging.conversations }),
    notificationsCapability({ notifications }),
    presenceCapability(presence),
    webhooksCapability({ webhooks }),
    ...(calls
      ? [
          callsCapability({
            calls: calls.service,
            webhooks: calls.webhooks,
            conversations: messaging.conversations,
          }),
        ]
      : []),
  ],
});
const server = createServer(app);
answerClientErrorsWithProblems(server);

shutdown
  .add('stop accepting and drain http requests', () => {
    ops.markDraining();
    return closeHttpServer(server);
  })
  .add('close redis and postgres', async () => {
    await webhookQueue.close();
    await runtime.close();
  });

await runtime.listen(server);
