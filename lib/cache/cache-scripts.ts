import type { ChainableCommander } from 'ioredis';
import {
  defineLuaScripts,
  loadLuaScripts,
  luaScriptCommand,
  runLuaScript,
} from '../redis/lua-scripts.js';
import type { RedisClient } from '../redis/redis-client.js';

const cacheScripts = loadLuaScripts(import.meta.url, { fill: 'cache-fill-1.lua' });

/** key, lease, entry ('' = release the lease only), ttl in ms; resolves to 1 (written) or 0
 *  (lease lost). */
export type FillCommand = (
  key: string,
  lease: string,
  entry: string,
  ttlMs: number,
) => Promise<unknown>;

/** Defines the fill script on `redis` (idempotent: several caches may share a client). */
export function defineCacheScripts(redis: RedisClient): void {
  defineLuaScripts(redis, cacheScripts);
}

/** The fill script as a command of `redis` (after defineCacheScripts), bound once. */
export function cacheFillCommand(redis: RedisClient): FillCommand {
  return luaScriptCommand(redis, cacheScripts.fill);
}

/** Queues one fill on a pipeline of a client that has the script defined. */
export function queueCacheFill(
  pipeline: ChainableCommander,
  key: string,
  lease: string,
  entry: string,
  ttlMs: number,
): void {
  runLuaScript(pipeline, cacheScripts.fill, key, lease, entry, ttlMs);
}
