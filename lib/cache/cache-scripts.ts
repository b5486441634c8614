import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander, Redis } from 'ioredis';

const FILL_SCRIPT = 'cache-fill.lua';

/**
 * The Lua source sits beside this module (lib/cache/ under tsx; the image copies every
 * lib/**\/*.lua next to dist/, see Dockerfile). A build run from dist/ without that copy finds
 * it in lib/cache/ of the package root instead. Read once at import, so a missing file stops
 * the service at start-up, not at its first cache miss.
 */
function findScript(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (existsSync(join(here, FILL_SCRIPT))) return join(here, FILL_SCRIPT);
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, 'lib', 'cache', FILL_SCRIPT);
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) {
      throw new Error(
        `${FILL_SCRIPT} not found beside ${here} or in lib/cache/ of a parent package`,
      );
    }
  }
}

export const cacheFillScriptSource = readFileSync(findScript(), 'utf8');

/** Prefixed so it cannot clash with another module's command on a shared client. */
const COMMAND = 'quadCacheFill';

/** key, lease, entry ('' = release the lease only), ttl in ms. On a client it resolves to 1
 *  (written) or 0 (lease lost); on a pipeline it queues the call and returns the pipeline. */
type ScriptCall = (key: string, lease: string, entry: string, ttlMs: number) => unknown;
export type FillCommand = (
  key: string,
  lease: string,
  entry: string,
  ttlMs: number,
) => Promise<unknown>;

/**
 * Defines the fill script on `redis` (idempotent: several caches may share a client). ioredis
 * sends the body once per connection (EVAL), then EVALSHA; after a SCRIPT FLUSH or a restart
 * the NOSCRIPT answer makes it resend the body once.
 */
export function defineCacheScripts(redis: Redis): void {
  if (typeof Reflect.get(redis, COMMAND) === 'function') return;
  redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: cacheFillScriptSource });
}

function scriptCall(target: Redis | ChainableCommander): ScriptCall {
  const command: unknown = Reflect.get(target, COMMAND);
  if (typeof command !== 'function') {
    throw new Error('the cache fill script is not defined on this Redis client');
  }
  return (command as ScriptCall).bind(target);
}

/** The fill script as a command of `redis` (after defineCacheScripts), bound once. */
export function cacheFillCommand(redis: Redis): FillCommand {
  return scriptCall(redis) as FillCommand;
}

/** Queues one fill on a pipeline of a client that has the script defined. */
export function queueCacheFill(
  pipeline: ChainableCommander,
  key: string,
  lease: string,
  entry: string,
  ttlMs: number,
): void {
  scriptCall(pipeline)(key, lease, entry, ttlMs);
}
