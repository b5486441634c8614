import { createServer } from 'node:http';
import {
  type AccountCaches,
  ApiKeyService,
  PasswordHasher,
  ProfileService,
  SessionService,
  UserAccountsService,
} from '../../lib/accounts/index.js';
import { CacheAside } from '../../lib/cache/index.js';
import {
  ConversationService,
  MessageService,
  ReadReceiptService,
  RecentMessagesStore,
  UnreadCountsService,
} from '../../lib/conversations/index.js';
import { closeHttpServer } from '../../lib/lifecycle/http-server.js';
import { createRateLimiter } from '../../lib/rate-limit/index.js';
import { RedisBreaker } from '../../lib/redis/redis-breaker.js';
import { startServiceRuntime } from '../../lib/runtime/service-runtime.js';
import { readPackageVersion } from '../../lib/runtime/version.js';
import { accountsAuthenticator, accountsCapability } from './accounts/accounts.capability.js';
import { createApiApp } from './api-app.js';
import { conversationsCapability } from './conversations/conversations.capability.js';

// Composition root of the api service: the only place that reads configuration and creates
// clients for it; everything below receives what it needs.
const runtime = startServiceRuntime('api');
const { config, logger, metrics, ops, shutdown, postgres } = runtime;

const rateLimiter = createRateLimiter({
  redis: runtime.redis.state,
  keyPrefix: config.redis.keyPrefix,
  policies: config.rateLimits,
  registry: metrics,
  logger,
});

const cacheBreaker = new RedisBreaker({
  name: 'cache',
  redis: runtime.redis.cache,
  registry: metrics,
  logger,
});
const cache = new CacheAside({
  redis: runtime.redis.cache,
  keyPrefix: config.redis.keyPrefix,
  registry: metrics,
  logger,
  breaker: cacheBreaker,
});
const caches: AccountCaches = {
  sessions: cache.namespace('session'),
  apiKeys: cache.namespace('api-key'),
  profiles: cache.namespace('user-profile'),
};

const hasher = new PasswordHasher(undefined, metrics);
const accounts = {
  sessions: new SessionService({ postgres, hasher, caches, ttlMs: config.sessions.ttlMs }),
  apiKeys: new ApiKeyService({ postgres, apiKeys: caches.apiKeys }),
  profiles: new ProfileService({ postgres, profiles: caches.profiles }),
  users: new UserAccountsService({ postgres, hasher, caches }),
};

const unread = new UnreadCountsService({ postgres, counters: cache.namespace('unread-counts') });
const conversations = new ConversationService({
  postgres,
  caches: {
    conversations: cache.namespace('conversation'),
    permissions: cache.namespace('permissions'),
  },
  unread,
});
const messaging = {
  conversations,
  unread,
  receipts: new ReadReceiptService({ postgres, conversations, unread }),
  messages: new MessageService({
    postgres,
    conversations,
    unread,
    recent: new RecentMessagesStore({
      redis: runtime.redis.cache,
      keyPrefix: config.redis.keyPrefix,
      registry: metrics,
      logger,
      breaker: cacheBreaker,
    }),
  }),
};

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
