import {
  type AccountCaches,
  ApiKeyService,
  PasswordHasher,
  ProfileService,
  SessionService,
  UserAccountsService,
} from '../accounts/index.js';
import { CacheAside } from '../cache/index.js';
import {
  ConversationService,
  MessageService,
  ReadReceiptService,
  RecentMessagesStore,
  UnreadCountsService,
} from '../conversations/index.js';
import { RedisBreaker } from '../redis/redis-breaker.js';
import type { ServiceRuntime } from './service-runtime.js';

export interface AccountServices {
  sessions: SessionService;
  apiKeys: ApiKeyService;
  profiles: ProfileService;
  users: UserAccountsService;
}

export interface MessagingServices {
  conversations: ConversationService;
  messages: MessageService;
  receipts: ReadReceiptService;
  unread: UnreadCountsService;
}

export interface DomainServices {
  /** The cache-aside module over the cache Redis, behind its breaker. */
  cache: CacheAside;
  cacheBreaker: RedisBreaker;
  accounts: AccountServices;
  messaging: MessagingServices;
}

/**
 * The domain services over PostgreSQL and the cache Redis, wired the same way for every
 * service that serves users (the api over HTTP, the socket gateway over WebSockets), so a
 * session, a membership or a message means the same thing on both transports. Called only from
 * composition roots, with the clients their runtime created.
 */
export function createDomainServices(
  runtime: Pick<ServiceRuntime, 'config' | 'logger' | 'metrics' | 'postgres' | 'redis'>,
): DomainServices {
  const { config, logger, metrics, postgres } = runtime;
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
  const accounts: AccountServices = {
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
  const messaging: MessagingServices = {
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

  return { cache, cacheBreaker, accounts, messaging };
}
