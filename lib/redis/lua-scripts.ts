import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './redis-client.js';

/**
 * The one way Quad's modules run Lua on Redis. A script lives beside the capability that owns
 * it, in a file named like BullMQ's commands, `name-N.lua`, N being how many of its arguments
 * are KEYS; the loader reads N from the name, so the file and its declaration can never
 * disagree. A name without N (`name.lua`) declares a variable key count, passed by each call
 * as its first argument.
 *
 * On a client, a script becomes an ioredis custom command (defineCommand): ioredis sends the
 * body (EVAL) the first time it runs on a connection and EVALSHA after that, and when Redis
 * has forgotten it (SCRIPT FLUSH, a restart, a failover) the NOSCRIPT answer makes ioredis
 * resend it once as EVAL, also for a call queued in a pipeline. Callers see an ordinary reply;
 * test/integration/lua-scripts.test.ts holds ioredis to that. On a Redis Cluster it is the same
 * custom command: ioredis routes each call by its keys (which must share a slot) and each node
 * learns the script on first use (test/cluster/cluster-redis.test.ts).
 */
export interface LuaScript {
  /** The file name, `name-N.lua` or `name.lua`. */
  readonly file: string;
  /** The custom command it is defined as on a client: one per script name. */
  readonly command: string;
  /** N of the file name; undefined when each call passes the key count first. */
  readonly numberOfKeys: number | undefined;
  readonly lua: string;
}

/** A script's arguments: KEYS first, then ARGV (numbers are sent in full precision). */
export type LuaArgument = string | number;

const FILE_NAME = /^([a-z0-9]+(?:-[a-z0-9]+)*?)(?:-(\d+))?\.lua$/;

/** The command name and key count a file name declares; throws for any other name. */
export function parseLuaScriptName(file: string): {
  command: string;
  numberOfKeys: number | undefined;
} {
  const match = FILE_NAME.exec(file);
  if (!match) {
    throw new Error(`Lua script ${file}: expected a kebab-case name-N.lua (N = number of KEYS)`);
  }
  const [, name, keys] = match;
  return { command: `lua:${name}`, numberOfKeys: keys === undefined ? undefined : Number(keys) };
}

/**
 * Beside the module (tsx, or the image, which copies lib/**\/*.lua next to dist/), else in the
 * module's capability folder under a parent's lib/ (a local build run from dist/ without that
 * copy).
 */
function scriptPath(moduleDirectory: string, file: string): string {
  const besideModule = join(moduleDirectory, file);
  if (existsSync(besideModule)) return besideModule;
  const capability = basename(moduleDirectory);
  for (let dir = dirname(moduleDirectory); ; dir = dirname(dir)) {
    const candidate = join(dir, 'lib', capability, file);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) {
      throw new Error(`${file} not found beside ${moduleDirectory} or in lib/${capability}/`);
    }
  }
}

/**
 * Reads the scripts `files` names (alias → file) from beside the module at `moduleUrl`
 * (its import.meta.url). Meant to run at import, so that a missing or misnamed script stops
 * the service at start-up, not at its first call.
 */
export function loadLuaScripts<const Files extends Record<string, string>>(
  moduleUrl: string,
  files: Files,
): { readonly [Alias in keyof Files]: LuaScript } {
  const directory = dirname(fileURLToPath(moduleUrl));
  const scripts: Record<string, LuaScript> = {};
  for (const [alias, file] of Object.entries(files)) {
    const { command, numberOfKeys } = parseLuaScriptName(file);
    scripts[alias] = {
      file,
      command,
      numberOfKeys,
      lua: readFileSync(scriptPath(directory, file), 'utf8'),
    };
  }
  return scripts as { readonly [Alias in keyof Files]: LuaScript };
}

/** What the loader defined on each client, to refuse two scripts under one command name. */
const definedOn = new WeakMap<RedisClient, Map<string, string>>();

/**
 * Defines `scripts` on `redis`. Idempotent: modules sharing one client each define theirs.
 * Define before creating a pipeline: a pipeline copies the client's commands when created.
 */
export function defineLuaScripts(
  redis: RedisClient,
  scripts: Readonly<Record<string, LuaScript>>,
): void {
  let defined = definedOn.get(redis);
  if (!defined) {
    defined = new Map();
    definedOn.set(redis, defined);
  }
  for (const script of Object.values(scripts)) {
    const lua = defined.get(script.command);
    if (lua === script.lua) continue;
    if (lua !== undefined) {
      throw new Error(`two different Lua scripts named ${script.file} on one Redis client`);
    }
    redis.defineCommand(script.command, {
      lua: script.lua,
      ...(script.numberOfKeys === undefined ? {} : { numberOfKeys: script.numberOfKeys }),
    });
    defined.set(script.command, script.lua);
  }
}

type ScriptCommand = (...args: LuaArgument[]) => unknown;

function scriptCommand(target: RedisClient | ChainableCommander, script: LuaScript): ScriptCommand {
  const command: unknown = Reflect.get(target, script.command);
  if (typeof command !== 'function') {
    throw new Error(`${script.file} is not defined on this Redis client (defineLuaScripts)`);
  }
  return command as ScriptCommand;
}

/** Runs a defined script on a client; resolves to its reply. */
export function runLuaScript(
  redis: RedisClient,
  script: LuaScript,
  ...args: LuaArgument[]
): Promise<unknown>;
/** Queues a script on a pipeline of a client it is defined on; its reply comes with exec(). */
export function runLuaScript(
  pipeline: ChainableCommander,
  script: LuaScript,
  ...args: LuaArgument[]
): ChainableCommander;
export function runLuaScript(
  target: RedisClient | ChainableCommander,
  script: LuaScript,
  ...args: LuaArgument[]
): Promise<unknown> | ChainableCommander;
export function runLuaScript(
  target: RedisClient | ChainableCommander,
  script: LuaScript,
  ...args: LuaArgument[]
): unknown {
  return scriptCommand(target, script).apply(target, args);
}

/** A defined script bound to `redis`, looked up once: for hot paths that call it per request. */
export function luaScriptCommand(
  redis: RedisClient,
  script: LuaScript,
): (...args: LuaArgument[]) => Promise<unknown> {
  return scriptCommand(redis, script).bind(redis) as (...args: LuaArgument[]) => Promise<unknown>;
}
