import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logger.js';
import { type LuaArgument, type LuaScript, runLuaScript } from '../redis/lua-scripts.js';
import { type RedisBreaker, RedisUnavailableError } from '../redis/redis-breaker.js';
import { connectionOptions, type RedisClient } from '../redis/redis-client.js';
import { type BatchCommand, runBatch } from '../redis/slot-batches.js';
import { cacheRuntime } from './cache.policies.js';
import { LostInvalidations } from './lost-invalidations.js';

/** A batch's replies in order (lib/redis/slot-batches.ts: one pipeline, or one per slot on a
 *  cluster), or its first error, so the breaker judges it like one command. */
export async function execBatch(
  redis: RedisClient,
  commands: readonly BatchCommand[],
): Promise<unknown[]> {
  return (await runBatch(redis, commands)).map((outcome) => {
    if ('error' in outcome) throw outcome.error;
    return outcome.reply;
  });
}

/** What each store with its own structures on the cache Redis is given. */
export interface CacheStoreOptions {
  /** The cache Redis (role `command`); never created or closed here. */
  redis: RedisClient;
  keyPrefix: string;
  registry: Registry;
  logger: Logger;
  /** The cache Redis' breaker, so a dead Redis costs a read nothing. */
  breaker?: RedisBreaker;
}

/**
 * How every user of the cache Redis talks to it: the cache-aside namespaces and the stores
 * with their own structures (recent messages, poll results, search generations). One call
 * goes through the cache Redis' breaker (or is refused at once while the client is not
 * connected), after replaying the invalidations an outage lost (lost-invalidations.ts); a
 * failure is counted by the caller's metrics and logged once per outage, not once per call.
 */
export class CacheRedisAccess {
  readonly redis: RedisClient;
  /** Invalidations that did not reach Redis, replayed before the next command. */
  readonly lost: LostInvalidations;
  readonly #breaker: RedisBreaker | undefined;
  readonly #logger: Logger;
  readonly #bypassed: string;
  readonly #recovered: string | undefined;
  #answering = true;

  constructor(options: {
    redis: RedisClient;
    breaker?: RedisBreaker | undefined;
    logger: Logger;
    /** Logged (warn) when Redis stops answering: what callers do instead. */
    bypassedMessage: string;
    /** Logged (info) when it answers again; none = silent. */
    recoveredMessage?: string;
  }) {
    this.redis = options.redis;
    this.#breaker = options.breaker;
    this.#logger = options.logger;
    this.#bypassed = options.bypassedMessage;
    this.#recovered = options.recoveredMessage;
    this.lost = new LostInvalidations({
      redis: this.redis,
      logger: this.#logger,
      maxKeys: cacheRuntime.maxLostInvalidations,
    });
  }

  /** Runs one Redis operation, replaying lost invalidations first. */
  async call<R>(operation: () => Promise<R>): Promise<R> {
    if (this.lost.pending) await this.lost.replay((replayed) => this.#send(replayed));
    return this.#send(operation);
  }

  /** Runs a Lua script (defined on the client with defineLuaScripts) as one call. */
  runScript(script: LuaScript, ...args: LuaArgument[]): Promise<unknown> {
    return this.call(() => runLuaScript(this.redis, script, ...args));
  }

  /** A call failed: count it (the caller's metric), and warn once until Redis answers. */
  failed(countError: () => void, error: unknown): void {
    countError();
    if (!this.#answering) return;
    this.#answering = false;
    this.#logger.warn(
      { err: error instanceof Error ? error.message : String(error) },
      this.#bypassed,
    );
  }

  /** A call succeeded: the next failure warns again. */
  answered(): void {
    if (this.#answering) return;
    this.#answering = true;
    if (this.#recovered) this.#logger.info(this.#recovered);
  }

  #send<R>(operation: () => Promise<R>): Promise<R> {
    if (this.#breaker) return this.#breaker.run(operation);
    const status = this.redis.status;
    if (status !== 'ready') {
      return Promise.reject(
        new RedisUnavailableError(
          connectionOptions(this.redis).connectionName ?? 'cache',
          `connection is ${status}`,
        ),
      );
    }
    return operation();
  }
}

/** The access of one store: its log lines name `component`; `bypassedMessage` is what its
 *  callers do instead while Redis does not answer. */
export function cacheStoreAccess(
  options: CacheStoreOptions,
  component: string,
  bypassedMessage: string,
): CacheRedisAccess {
  return new CacheRedisAccess({
    redis: options.redis,
    breaker: options.breaker,
    logger: options.logger.child({ component }),
    bypassedMessage,
  });
}
