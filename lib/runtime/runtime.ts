import type { Registry } from 'prom-client';
import {
  CallService,
  CallStateStore,
  createLiveKit,
  type LiveKit,
  LiveKitWebhooks,
} from '../calls/index.js';
import type { ServiceConfig } from '../config/index.js';
import type { Logger } from '../observability/logger.js';
import { createPostgresPool, type PostgresPool } from '../postgres/postgres-pool.js';
import { createRateLimiter, type RateLimiter } from '../rate-limit/index.js';
import {
  createRealtimeEmitter,
  Presence,
  type RealtimeEmitter,
  RealtimePublisher,
  RoomPresence,
  Typing,
  tolerantPublisher,
} from '../realtime/index.js';
import {
  closeNodeRedisClient,
  createNodeRedisClient,
  type NodeRedisClient,
  nodeRedisStatus,
} from '../redis/node-redis-client.js';
import { RedisBreaker } from '../redis/redis-breaker.js';
import type { RedisClient } from '../redis/redis-client.js';
import {
  closeRedisClient,
  createRedisClient,
  type RedisConnectionRole,
} from '../redis/redis-client.js';
import {
  type CacheStores,
  createCacheStores,
  createDomainServices,
  type DomainServices,
} from './domain-services.js';

/** The two Redis servers of a deployment (design: a state Redis and a cache Redis). */
export type RedisRole = 'state' | 'cache';

/** Connections to the state Redis beyond the command client, each for one purpose. */
export type ExtraConnectionRole = Exclude<RedisConnectionRole, 'command'>;

export interface RuntimeOptions {
  /** Names the process in its connections (`quad-<name>`, `quad-<name>-cache`, ...). */
  name: string;
  config: ServiceConfig;
  logger: Logger;
  metrics: Registry;
  /** false: every cache read goes to PostgreSQL (the cache benchmark's baseline). Default true. */
  cacheEnabled?: boolean;
  /** false: the domain services announce nothing in real time (benchmarks with no gateway to
   *  announce to). Default true. */
  realtimeEvents?: boolean;
}

/** What calls on LiveKit are made of, for the api and the worker. */
export interface CallServices {
  livekit: LiveKit;
  store: CallStateStore;
  service: CallService;
  webhooks: LiveKitWebhooks;
}

interface Opened {
  name: string;
  close(): Promise<void>;
}

/**
 * Everything one process holds on to, created once and handed down: the PostgreSQL pool, the
 * Redis connections and each Redis' one breaker, the real-time publisher, the presence, room
 * and typing stores, the cache stores, the domain services and the rate limiter. Each part is
 * built the first time a composition root asks for it, so a process holds only what it uses
 * (the worker has no rate limiter, the api no typing store, the CLI no cache Redis), and asking
 * twice gives the same object: there is one breaker per Redis, so its state and its metric
 * speak for every caller.
 *
 * `close()` closes what was opened, newest first, once.
 */
export class Runtime {
  readonly config: ServiceConfig;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** The command clients (role `command`): fail fast, every call bounded by a timeout. */
  readonly redis: { readonly state: RedisClient; readonly cache: RedisClient };
  #postgres: PostgresPool | undefined;
  #stateRedis: RedisClient | undefined;
  #cacheRedis: RedisClient | undefined;
  readonly #name: string;
  readonly #options: RuntimeOptions;
  readonly #opened: Opened[] = [];
  #closing: Promise<void> | undefined;
  readonly #breakers = new Map<RedisRole, RedisBreaker>();
  readonly #connections = new Map<ExtraConnectionRole, RedisClient>();
  #publisher: RealtimePublisher | undefined;
  #emitter: RealtimeEmitter | undefined;
  #presence: Presence | undefined;
  #roomPresence: RoomPresence | undefined;
  #typing: Typing | undefined;
  #cacheStores: CacheStores | undefined;
  #domain: DomainServices | undefined;
  #rateLimiter: RateLimiter | undefined;
  #callStateRedis: { client: NodeRedisClient; breaker: RedisBreaker } | undefined;
  #calls: CallServices | undefined;

  constructor(options: RuntimeOptions) {
    const { name, config, logger } = options;
    this.#name = name;
    this.#options = options;
    this.config = config;
    this.logger = logger;
    this.metrics = options.metrics;
    const runtime = this;
    this.redis = {
      get state() {
        runtime.#stateRedis ??= runtime.#openRedis(
          'redis',
          config.redis.state,
          'command',
          `quad-${name}`,
        );
        return runtime.#stateRedis;
      },
      get cache() {
        runtime.#cacheRedis ??= runtime.#openRedis(
          'redis-cache',
          config.redis.cache,
          'command',
          `quad-${name}-cache`,
        );
        return runtime.#cacheRedis;
      },
    };
  }

  /** The PostgreSQL pool (`quad-<name>`). */
  get postgres(): PostgresPool {
    if (!this.#postgres) {
      const postgres = createPostgresPool(this.config.postgres, `quad-${this.#name}`, this.logger);
      this.#opened.push({ name: 'postgres', close: () => postgres.end() });
      this.#postgres = postgres;
    }
    return this.#postgres;
  }

  #openRedis(
    label: string,
    endpoint: ServiceConfig['redis']['state'],
    role: RedisConnectionRole,
    connectionName: string,
  ): RedisClient {
    const client = createRedisClient(endpoint, role, connectionName, this.logger);
    this.#opened.push({ name: label, close: () => closeRedisClient(client) });
    return client;
  }

  /** The one breaker of `role`'s command client in this process (`redis_breaker_state{redis}`). */
  breaker(role: RedisRole): RedisBreaker {
    let breaker = this.#breakers.get(role);
    if (!breaker) {
      breaker = new RedisBreaker({
        name: role,
        redis: this.redis[role],
        registry: this.metrics,
        logger: this.logger,
      });
      this.#breakers.set(role, breaker);
    }
    return breaker;
  }

  /**
   * The state Redis through node-redis, for redis-om (live call state, lib/calls), with its own
   * breaker `state-om` (`redis_breaker_state{redis="state-om"}`): a second client to the same
   * server is a second way to fail, and its breaker speaks for it alone. Connects as this
   * process's ACL user, named `quad-<name>-om`; created on first ask.
   */
  callStateRedis(): { client: NodeRedisClient; breaker: RedisBreaker } {
    if (!this.#callStateRedis) {
      const client = createNodeRedisClient(
        this.config.redis.state,
        `quad-${this.#name}-om`,
        this.logger,
      );
      this.#opened.push({ name: 'redis-om', close: () => closeNodeRedisClient(client) });
      const breaker = new RedisBreaker({
        name: 'state-om',
        redis: nodeRedisStatus(client),
        registry: this.metrics,
        logger: this.logger,
      });
      this.#callStateRedis = { client, breaker };
    }
    return this.#callStateRedis;
  }

  /**
   * A dedicated connection to the state Redis: `subscriber` (the gateway adapter's pub/sub
   * side, which cannot send commands) or `queue` (BullMQ's, which waits instead of failing
   * fast). Named `quad-<name>-<role>`.
   */
  redisConnection(role: ExtraConnectionRole): RedisClient {
    let client = this.#connections.get(role);
    if (!client) {
      client = this.#openRedis(
        `redis-${role}`,
        this.config.redis.state,
        role,
        `quad-${this.#name}-${role}`,
      );
      this.#connections.set(role, client);
    }
    return client;
  }

  /** What this process commits, announced to the sockets of every gateway through Redis. */
  publisher(): RealtimePublisher {
    this.#publisher ??= new RealtimePublisher({
      redis: this.redis.state,
      keyPrefix: this.config.redis.keyPrefix,
      registry: this.metrics,
      logger: this.logger,
    });
    return this.#publisher;
  }

  /**
   * A bare Socket.IO emitter on the gateways' channel, for announcements that are not domain
   * events (the worker's stale presence, room and typing sweep). A publish while Redis is away
   * is logged and dropped.
   */
  socketEmitter(): RealtimeEmitter {
    this.#emitter ??= createRealtimeEmitter(
      tolerantPublisher(this.redis.state, (error) =>
        this.logger.warn({ err: String(error) }, 'stale real-time announcement not published'),
      ),
      this.config.redis.keyPrefix,
    );
    return this.#emitter;
  }

  #realtimeStoreOptions() {
    return {
      redis: this.redis.state,
      keyPrefix: this.config.redis.keyPrefix,
      registry: this.metrics,
      logger: this.logger,
    };
  }

  /** Who is online, in the state Redis shared by every gateway instance. */
  presence(): Presence {
    this.#presence ??= new Presence({
      ...this.#realtimeStoreOptions(),
      ttlMs: this.config.presence.ttlMs,
    });
    return this.#presence;
  }

  /** Who is viewing which conversation, in the state Redis. */
  roomPresence(): RoomPresence {
    this.#roomPresence ??= new RoomPresence({
      ...this.#realtimeStoreOptions(),
      ttlMs: this.config.presence.ttlMs,
    });
    return this.#roomPresence;
  }

  /** Who is typing where; its own, shorter TTL (policy.presence.typingTtlMs). */
  typing(): Typing {
    this.#typing ??= new Typing(this.#realtimeStoreOptions());
    return this.#typing;
  }

  /** The stores over the cache Redis, behind its breaker. */
  cacheStores(): CacheStores {
    this.#cacheStores ??= createCacheStores({
      redis: this.redis.cache,
      breaker: this.breaker('cache'),
      keyPrefix: this.config.redis.keyPrefix,
      registry: this.metrics,
      logger: this.logger,
      enabled: this.#options.cacheEnabled,
    });
    return this.#cacheStores;
  }

  /** The domain services, announcing through publisher() unless realtimeEvents is false. */
  domain(): DomainServices {
    this.#domain ??= createDomainServices({
      config: this.config,
      logger: this.logger,
      metrics: this.metrics,
      postgres: this.postgres,
      stores: this.cacheStores(),
      events: this.#options.realtimeEvents === false ? undefined : this.publisher(),
    });
    return this.#domain;
  }

  /**
   * Calls on LiveKit (lib/calls), when LiveKit is configured (LIVEKIT_API_KEY and its
   * secret); undefined otherwise, and the api then serves no call routes. Live state through
   * callStateRedis(); changes announced through publisher().
   */
  calls(): CallServices | undefined {
    const { url, publicUrl, apiKey, apiSecret } = this.config.livekit;
    if (apiKey === undefined || apiSecret === undefined) return undefined;
    if (!this.#calls) {
      const livekit = createLiveKit({ url, publicUrl, apiKey, apiSecret });
      const { client, breaker } = this.callStateRedis();
      const store = new CallStateStore({
        redis: client,
        breaker,
        keyPrefix: this.config.redis.keyPrefix,
      });
      const service = new CallService({
        postgres: this.postgres,
        conversations: this.domain().messaging.conversations,
        store,
        livekit,
        outbox: this.domain().outbox,
        events: this.#options.realtimeEvents === false ? undefined : this.publisher(),
        presence: this.presence(),
        logger: this.logger,
        registry: this.metrics,
      });
      const webhooks = new LiveKitWebhooks({
        postgres: this.postgres,
        livekit,
        calls: service,
        logger: this.logger,
      });
      this.#opened.push({ name: 'calls', close: async () => service.stop() });
      this.#calls = { livekit, store, service, webhooks };
    }
    return this.#calls;
  }

  /**
   * The rate limiter of every user-facing service (api over HTTP, gateway over WebSockets):
   * the configured policies (RATE_LIMITS) on the state Redis, shared by every instance, behind
   * that Redis' breaker so a hung Redis costs only the checks that open it.
   */
  rateLimiter(): RateLimiter {
    this.#rateLimiter ??= createRateLimiter({
      redis: this.redis.state,
      breaker: this.breaker('state'),
      keyPrefix: this.config.redis.keyPrefix,
      policies: this.config.rateLimits,
      registry: this.metrics,
      logger: this.logger,
    });
    return this.#rateLimiter;
  }

  /** Closes every connection and pool this runtime opened, newest first; once, however often
   *  it is called. The composition root calls it after its own draining steps. */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    const failures: string[] = [];
    for (const opened of this.#opened.toReversed()) {
      try {
        await opened.close();
      } catch (error) {
        failures.push(`${opened.name}: ${String(error)}`);
      }
    }
    if (failures.length > 0) throw new Error(`closing failed: ${failures.join('; ')}`);
  }
}
