import type { RateLimitAlgorithm } from '../policy/rate-limit.policies.js';
import {
  defineLuaScripts,
  type LuaArgument,
  loadLuaScripts,
  luaScriptCommand,
} from '../redis/lua-scripts.js';
import type { RedisClient } from '../redis/redis-client.js';

/** The Lua sources beside this module, runnable by hand with `redis-cli --eval`. */
const rateLimitScripts = loadLuaScripts(import.meta.url, {
  'sliding-window-log': 'sliding-window-log-1.lua',
  gcra: 'gcra-1.lua',
} satisfies Record<RateLimitAlgorithm, string>);

/** What each script returns (see the header of each .lua file). */
export interface ScriptReplies {
  /** admitted (1|0), microseconds the theoretical arrival time is ahead of now. */
  gcra: [number, number];
  /** admitted (1|0), remaining, retry after µs, next unit in µs. */
  'sliding-window-log': [number, number, number, number];
}

/** A defined script: the key, then its arguments (numbers are sent in full precision). */
export type RateLimitScript = (key: string, ...args: LuaArgument[]) => Promise<unknown>;

/**
 * Defines both scripts on `redis` (lib/redis/lua-scripts.ts): each check is one round trip,
 * EVALSHA, and the body crosses the network once per connection. Defining is idempotent:
 * several limiters may share one client.
 */
export function defineRateLimitScripts(redis: RedisClient): void {
  defineLuaScripts(redis, rateLimitScripts);
}

/** The reply, typed, or an error naming what came back instead (a script/version mismatch). */
export function checkedReply<A extends RateLimitAlgorithm>(
  algorithm: A,
  reply: unknown,
): ScriptReplies[A] {
  if (Array.isArray(reply) && reply.length === (algorithm === 'gcra' ? 2 : 4)) {
    let numbers = true;
    for (const value of reply) if (typeof value !== 'number') numbers = false;
    if (numbers) return reply as ScriptReplies[A];
  }
  throw new Error(`rate-limit script ${algorithm} returned ${JSON.stringify(reply)}`);
}

/**
 * The command that runs one algorithm's script on `redis` (after defineRateLimitScripts),
 * bound to it. Looked up once per limiter, not per check: this is the request hot path.
 */
export function rateLimitScript(
  redis: RedisClient,
  algorithm: RateLimitAlgorithm,
): RateLimitScript {
  return luaScriptCommand(redis, rateLimitScripts[algorithm]);
}
