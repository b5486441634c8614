import {
  type AccountCaches,
  type AccountEvents,
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
  type MessagingEvents,
  ReadReceiptService,
  RecentMessagesStore,
  UnreadCountsService,
} from '../conversations/index.js';
import { PollResultsStore, PollService } from '../polls/index.js';
import { RedisBreaker } from '../redis/redis-breaker.js';
import { MessageSearchService, SearchGenerations } from '../search/index.js';
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
  polls: PollService;
  /** Full-text search over the caller's messages (lib/search). */
  search: MessageSearchService;
}

/**
 * The domain services over PostgreSQL and the cache Redis, wired the same way for every
 * service that serves users (the api over HTTP, the socket gateway over WebSockets), so a
 * session, a membership or a message means the same thing on both transports. Called only from
 * composition roots, with the clients their runtime created.
 */
export function createDomainServices(
  runtime: Pick<ServiceRuntime, 'config' | 'logger' | 'metrics' | 'postgres' | 'redis'>,
  options: {
    /** Live delivery of what the services commit (lib/realtime/publisher.ts); none = no
     *  real-time side (the CLI, benchmarks). */
    events?: MessagingEvents & AccountEvents;
  } = {},
): DomainServices {
  const { events } = options;
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
    sessions: new SessionService({
      postgres,
      hasher,
      caches,
      ttlMs: config.sessions.ttlMs,
      events,
    }),
    apiKeys: new ApiKeyService({ postgres, apiKeys: caches.apiKeys }),
    profiles: new ProfileService({ postgres, profiles: caches.profiles }),
    users: new UserAccountsService({ postgres, hasher, caches, events }),
  };

  const unread = new UnreadCountsService({ postgres, counters: cache.namespace('unread-counts') });
  const conversations = new ConversationService({
    postgres,
    caches: {
      conversations: cache.namespace('conversation'),
      permissions: cache.namespace('permissions'),
    },
    unread,
    events,
  });
  // Replaced after every committed send, edit and delete, so cached searches over the
  // conversation are never read again (lib/search/message-search.service.ts).
  const searchGenerations = new SearchGenerations({
    redis: runtime.redis.cache,
    keyPrefix: config.redis.keyPrefix,
    registry: metrics,
    logger,
    breaker: cacheBreaker,
  });
  const messaging: MessagingServices = {
    conversations,
    unread,
    receipts: new ReadReceiptService({ postgres, conversations, unread, events }),
    messages: new MessageService({
      postgres,
      conversations,
      unread,
      events,
      searchIndex: searchGenerations,
      recent: new RecentMessagesStore({
        redis: runtime.redis.cache,
        keyPrefix: config.redis.keyPrefix,
        registry: metrics,
        logger,
        breaker: cacheBreaker,
      }),
    }),
  };

  const polls = new PollService({
    postgres,
    conversations,
    results: new PollResultsStore({
      redis: runtime.redis.cache,
      keyPrefix: config.redis.keyPrefix,
      registry: metrics,
      logger,
      breaker: cacheBreaker,
    }),
  });

  const search = new MessageSearchService({
    postgres,
    cache: cache.namespace('search'),
    generations: searchGenerations,
  });

  return { cache, cacheBreaker, accounts, messaging, polls, search };
}
