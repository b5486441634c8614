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
import { NotificationService } from '../notifications/index.js';
import { OutboxWriter } from '../outbox/outbox-writer.js';
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
  /** In-app notifications of messages that arrived while offline (lib/notifications). */
  notifications: NotificationService;
  /** Every messaging write records an outbox row with it (lib/outbox). */
  outbox: OutboxWriter;
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
    /** The cache Redis' breaker, when the process has one already (a breaker name is
     *  registered once per metrics registry); default: a new one named `cache`. */
    cacheBreaker?: RedisBreaker;
    /** false: every read goes to PostgreSQL (CacheAside's `enabled`), the cache benchmark's
     *  baseline. Default true. */
    cacheEnabled?: boolean;
  } = {},
): DomainServices {
  const { events } = options;
  const { config, logger, metrics, postgres } = runtime;
  const cacheBreaker =
    options.cacheBreaker ??
    new RedisBreaker({
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
    enabled: options.cacheEnabled ?? true,
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
  // In the same transaction as every messaging write: the worker's relay re-does what the
  // fast path (events, caches) could not (lib/outbox/outbox-relay.ts).
  const outbox = new OutboxWriter({ postgres, logger });
  const notifications = new NotificationService({ postgres });
  const conversations = new ConversationService({
    postgres,
    caches: {
      conversations: cache.namespace('conversation'),
      permissions: cache.namespace('permissions'),
    },
    unread,
    events,
    outbox,
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
    receipts: new ReadReceiptService({
      postgres,
      conversations,
      unread,
      events,
      outbox,
      readTracker: notifications,
    }),
    messages: new MessageService({
      postgres,
      conversations,
      unread,
      events,
      outbox,
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

  return { cache, cacheBreaker, accounts, messaging, polls, search, notifications, outbox };
}
