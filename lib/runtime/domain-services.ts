import type { Registry } from 'prom-client';
import {
  type AccountCaches,
  type AccountEvents,
  type AccountServices,
  ApiKeyService,
  PasswordHasher,
  ProfileService,
  SessionService,
  UserAccountsService,
} from '../accounts/index.js';
import { CacheAside } from '../cache/index.js';
import type { ServiceConfig } from '../config/index.js';
import {
  ConversationService,
  MessageService,
  type MessagingEvents,
  type MessagingServices,
  ReadReceiptService,
  RecentMessagesStore,
  UnreadCountsService,
  unreadBasisCodec,
} from '../conversations/index.js';
import { NotificationService } from '../notifications/index.js';
import type { Logger } from '../observability/logger.js';
import { OutboxWriter } from '../outbox/outbox-writer.js';
import { PollResultsStore, PollService } from '../polls/index.js';
import type { PostgresPool } from '../postgres/postgres-pool.js';
import type { RedisBreaker } from '../redis/redis-breaker.js';
import type { RedisClient } from '../redis/redis-client.js';
import { MessageSearchService, SearchGenerations } from '../search/index.js';

/** The stores over the cache Redis, all behind that Redis' one breaker. */
export interface CacheStores {
  /** The cache-aside module (namespaced string entries). */
  cache: CacheAside;
  recentMessages: RecentMessagesStore;
  pollResults: PollResultsStore;
  /** Replaced after every committed send, edit and delete, so cached searches over the
   *  conversation are never read again (lib/search/message-search.service.ts). */
  searchGenerations: SearchGenerations;
}

export function createCacheStores(deps: {
  redis: RedisClient;
  breaker: RedisBreaker;
  keyPrefix: string;
  registry: Registry;
  logger: Logger;
  /** false: every read goes to PostgreSQL (CacheAside's `enabled`), the cache benchmark's
   *  baseline. Default true. */
  enabled?: boolean;
}): CacheStores {
  const { enabled, ...options } = deps;
  return {
    cache: new CacheAside({ ...options, enabled: enabled ?? true }),
    recentMessages: new RecentMessagesStore(options),
    pollResults: new PollResultsStore(options),
    searchGenerations: new SearchGenerations(options),
  };
}

export interface DomainServices {
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
 * The domain services over PostgreSQL and the cache stores, wired the same way for every
 * process that serves or replays users' actions (the api over HTTP, the socket gateway over
 * WebSockets, the worker's outbox relay), so a session, a membership or a message means the
 * same thing everywhere. Called by the process runtime (lib/runtime/runtime.ts), with the
 * clients and stores it owns.
 */
export function createDomainServices(deps: {
  config: Pick<ServiceConfig, 'sessions'>;
  logger: Logger;
  metrics: Registry;
  postgres: PostgresPool;
  stores: CacheStores;
  /** Live delivery of what the services commit (lib/realtime/publisher.ts); none = no
   *  real-time side (benchmarks). */
  events?: MessagingEvents & AccountEvents;
}): DomainServices {
  const { config, logger, metrics, postgres, stores, events } = deps;
  const { cache } = stores;

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

  const unread = new UnreadCountsService({
    postgres,
    counters: cache.namespace('unread-counts', { codec: unreadBasisCodec }),
    heads: cache.namespace('unread-heads'),
  });
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
      searchIndex: stores.searchGenerations,
      recent: stores.recentMessages,
    }),
  };

  const polls = new PollService({ postgres, conversations, results: stores.pollResults });

  const search = new MessageSearchService({
    postgres,
    cache: cache.namespace('search'),
    generations: stores.searchGenerations,
  });

  return { accounts, messaging, polls, search, notifications, outbox };
}
