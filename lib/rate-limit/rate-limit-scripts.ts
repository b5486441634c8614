import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { RateLimitAlgorithm } from '../policy/rate-limit.policies.js';

const scriptFiles: Record<RateLimitAlgorithm, string> = {
  'sliding-window-log': 'sliding-window-log.lua',
  gcra: 'gcra.lua',
};

/**
 * The Lua sources live beside this module as .lua files (reviewable, and runnable by hand with
 * `redis-cli --eval`). `tsc` does not copy them to dist/, so, like lib/postgres/migrations.ts
 * finds migrations/, this walks up from the running module to the package root and reads them
 * from lib/rate-limit/ there: one copy of each script, found from lib/ under tsx and from
 * dist/lib/ after a build. The image must therefore ship lib/rate-limit/*.lua next to dist/
 * (as it ships migrations/); a missing file fails at import time, i.e. at start-up, not on the
 * first request.
 */
function scriptsDirectory(): string {
  const wanted = Object.values(scriptFiles);
  const here = dirname(fileURLToPath(import.meta.url));
  if (wanted.every((file) => existsSync(join(here, file)))) return here;
  let dir = here;
  for (;;) {
    const candidate = join(dir, 'lib', 'rate-limit');
    if (
      existsSync(join(dir, 'package.json')) &&
      wanted.every((file) => existsSync(join(candidate, file)))
    ) {
      return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `rate-limit Lua scripts (${wanted.join(', ')}) not found beside ${here} or in lib/rate-limit/ of any parent package`,
      );
    }
    dir = parent;
  }
}

const directory = scriptsDirectory();

/** Read once, at module load. */
export const rateLimitScriptSources: Readonly<Record<RateLimitAlgorithm, string>> = {
  'sliding-window-log': readFileSync(join(directory, scriptFiles['sliding-window-log']), 'utf8'),
  gcra: readFileSync(join(directory, scriptFiles.gcra), 'utf8'),
};

/** Names of the commands defined on the client; prefixed so they cannot clash with others'. */
const commandNames: Record<RateLimitAlgorithm, string> = {
  'sliding-window-log': 'quadRateLimitSlidingWindowLog',
  gcra: 'quadRateLimitGcra',
};

/** What each script returns (see the header of each .lua file). */
export interface ScriptReplies {
  /** admitted (1|0), microseconds the theoretical arrival time is ahead of now. */
  gcra: [number, number];
  /** admitted (1|0), remaining, retry after µs, next unit in µs. */
  'sliding-window-log': [number, number, number, number];
}

/** A defined script: the key, then its arguments (numbers are sent in full precision). */
export type RateLimitScript = (key: string, ...args: Array<string | number>) => Promise<unknown>;

/**
 * Defines both scripts on `redis` as custom commands. ioredis sends a script's body (EVAL) the
 * first time it runs on a connection and EVALSHA with its SHA-1 after that; if Redis has
 * forgotten it (SCRIPT FLUSH, a failover) the NOSCRIPT answer makes ioredis resend it once as
 * EVAL. Each check is therefore one round trip, and the body crosses the network once per
 * connection. Defining is idempotent: several limiters may share one client.
 */
export function defineRateLimitScripts(redis: Redis): void {
  for (const algorithm of Object.keys(scriptFiles) as RateLimitAlgorithm[]) {
    const name = commandNames[algorithm];
    if (typeof Reflect.get(redis, name) === 'function') continue;
    redis.defineCommand(name, { numberOfKeys: 1, lua: rateLimitScriptSources[algorithm] });
  }
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
export function rateLimitScript(redis: Redis, algorithm: RateLimitAlgorithm): RateLimitScript {
  const command: unknown = Reflect.get(redis, commandNames[algorithm]);
  if (typeof command !== 'function') {
    throw new Error(`rate-limit script ${algorithm} is not defined on this Redis client`);
  }
  return (command as RateLimitScript).bind(redis);
}
