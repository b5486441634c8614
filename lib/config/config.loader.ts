import { type RateLimitPolicies, resolveRateLimitPolicies } from '../policy/rate-limit.policies.js';
import {
  type Environment,
  environmentSchema,
  MIN_PRODUCTION_SECRET_LENGTH,
  PLACEHOLDER_SECRET,
} from './config.schema.js';
import { ConfigError, type ConfigProblem } from './config-error.js';
import type { WebhookSecretKeys } from './secret-key.js';

export type ServiceName = 'api' | 'socket' | 'worker';
export type Profile = Environment['QUAD_PROFILE'];

/** One node of a Redis Cluster, as the operator lists it (a seed: ioredis finds the others). */
export interface RedisNode {
  host: string;
  port: number;
}

export interface RedisEndpoint {
  /** The server, or the first seed node of a cluster. */
  host: string;
  port: number;
  /** Set when this Redis role is a Redis Cluster (REDIS_[CACHE_]CLUSTER_NODES): its seed nodes.
   *  Undefined for a single server. */
  clusterNodes?: readonly RedisNode[];
  username: string;
  password: string;
  db: number;
  tls: boolean;
  /** For logs and errors: the URL without its password. */
  display: string;
}

export interface PostgresSettings {
  connectionString: string;
  /** For logs and errors: the URL without its password. */
  display: string;
}

export interface BaseConfig {
  nodeEnv: Environment['NODE_ENV'];
  logLevel: Environment['LOG_LEVEL'];
  profile: Profile;
  postgres: PostgresSettings;
}

export interface ServiceConfig extends BaseConfig {
  service: ServiceName;
  http: { host: string; port: number };
  redis: {
    /** Sessions, presence, rate limits, broadcast, queues (never evicts). */
    state: RedisEndpoint;
    /** Cache-aside copies (evicts least recently used keys). */
    cache: RedisEndpoint;
    keyPrefix: string;
  };
  livekit: {
    /** Where the api reaches LiveKit's server API. */
    url: string;
    /** What clients connect to: a ws(s):// URL, or a path on the api's own origin (the edge). */
    publicUrl: string;
    apiKey: string | undefined;
    apiSecret: string | undefined;
  };
  worker: { concurrency: number; deliveryConcurrency: number };
  /** The rate-limit policy table with RATE_LIMITS overrides applied. */
  rateLimits: RateLimitPolicies;
  /** Login sessions (SESSION_TTL_HOURS). */
  sessions: { ttlMs: number };
  /** Presence of users on the socket gateway (PRESENCE_TTL_MS). */
  presence: { ttlMs: number };
  /** Outgoing webhooks (WEBHOOK_*); allowedHosts undefined = any host with public addresses. */
  webhooks: {
    concurrency: number;
    maxAttempts: number;
    backoffBaseMs: number;
    allowedHosts: readonly string[] | undefined;
    /** WEBHOOK_SECRET_KEY[_PREVIOUS]: always set for the api and the worker (the loader refuses
     *  to start them without it); undefined for the socket gateway, which never sees a secret. */
    secretKeys: WebhookSecretKeys | undefined;
  };
}

type Env = Record<string, string | undefined>;

/** Where each dependency lives in each profile (docs/configuration.md, "Connection profiles"). */
const profileHosts = {
  container: {
    redis: 'redis',
    redisCache: 'redis-cache',
    postgres: 'postgres',
    livekit: 'livekit',
  },
  // 127.0.0.1 rather than "localhost": Node may resolve localhost to ::1 first while the
  // native stack binds IPv4 only.
  host: {
    redis: '127.0.0.1',
    redisCache: '127.0.0.1',
    postgres: '127.0.0.1',
    livekit: '127.0.0.1',
  },
} as const;

const containerPorts = { redis: 6379, redisCache: 6379, postgres: 5432, livekit: 7880 } as const;

/**
 * Parses the environment. Invalid variables are recorded and then dropped so that parsing
 * continues with their defaults: the operator sees every problem in one message, not one per
 * restart.
 */
function parseEnvironment(env: Env, problems: ConfigProblem[]): Environment | undefined {
  const parsed = environmentSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const invalid = new Set<string>();
  for (const issue of parsed.error.issues) {
    const variable = String(issue.path[0] ?? '(environment)');
    invalid.add(variable);
    problems.push({ variable, message: issue.message });
  }
  const rest = Object.fromEntries(Object.entries(env).filter(([name]) => !invalid.has(name)));
  const retried = environmentSchema.safeParse(rest);
  return retried.success ? retried.data : undefined;
}

function checkSecret(
  variable: string,
  value: string | undefined,
  nodeEnv: Environment['NODE_ENV'],
  problems: ConfigProblem[],
): void {
  if (value === undefined || nodeEnv !== 'production') return;
  if (value.toLowerCase().includes(PLACEHOLDER_SECRET)) {
    problems.push({
      variable,
      message: `is the placeholder "${PLACEHOLDER_SECRET}" from .env.example; generate a real secret (scripts/ensure-env.sh does on a new .env)`,
    });
  } else if (value.length < MIN_PRODUCTION_SECRET_LENGTH) {
    problems.push({
      variable,
      message: `is too short for production (at least ${MIN_PRODUCTION_SECRET_LENGTH} characters)`,
    });
  }
}

interface ParsedUrl {
  url: URL;
  username: string | undefined;
  password: string | undefined;
}

/** Parses a connection URL strictly enough to catch typos such as `redis://host:`. */
function parseUrl(
  variable: string,
  raw: string,
  protocols: readonly string[],
  expected: string,
  problems: ConfigProblem[],
): ParsedUrl | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    problems.push({ variable, message: `is not a valid URL (expected ${expected})` });
    return undefined;
  }
  if (!protocols.includes(url.protocol)) {
    problems.push({
      variable,
      message: `must use ${protocols.map((p) => `${p}//`).join(' or ')} (expected ${expected})`,
    });
    return undefined;
  }
  if (url.hostname === '') {
    problems.push({ variable, message: `has no host (expected ${expected})` });
    return undefined;
  }
  // WHATWG URL silently accepts "host:" with an empty port; for a connection string that is
  // always a mistake (a variable that expanded to nothing).
  const authority = raw.slice(raw.indexOf('//') + 2).split(/[/?#]/, 1)[0] ?? '';
  const hostPart = authority.slice(authority.lastIndexOf('@') + 1);
  if (hostPart.endsWith(':')) {
    problems.push({ variable, message: `has an empty port (expected ${expected})` });
    return undefined;
  }
  return {
    url,
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
  };
}

const REDIS_URL_FORM = 'redis://[user[:password]@]host[:port][/db]';
const CLUSTER_NODES_FORM = 'comma-separated host:port seed nodes, e.g. redis-1:6379,redis-2:6379';

/** `host:port,host:port,[::1]:port`; undefined (and a problem recorded) when any part is wrong. */
export function parseClusterNodes(
  variable: string,
  raw: string,
  problems: ConfigProblem[],
): RedisNode[] | undefined {
  const nodes: RedisNode[] = [];
  const bad: string[] = [];
  for (const part of raw.split(',').map((item) => item.trim())) {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(part);
    const port = match ? Number(match[2]) : 0;
    if (!match || port < 1 || port > 65535) {
      bad.push(part === '' ? '(empty)' : `"${part}"`);
      continue;
    }
    nodes.push({ host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port });
  }
  if (bad.length > 0) {
    problems.push({
      variable,
      message: `has invalid node(s) ${bad.join(', ')} (expected ${CLUSTER_NODES_FORM})`,
    });
    return undefined;
  }
  const seen = new Set(nodes.map((node) => `${node.host}:${node.port}`));
  if (seen.size !== nodes.length) {
    problems.push({ variable, message: `lists a node twice (expected ${CLUSTER_NODES_FORM})` });
    return undefined;
  }
  return nodes;
}

const hostDisplay = (host: string) => (host.includes(':') ? `[${host}]` : host);

function resolveRedis(
  urlVariable: 'REDIS_URL' | 'REDIS_CACHE_URL',
  clusterVariable: 'REDIS_CLUSTER_NODES' | 'REDIS_CACHE_CLUSTER_NODES',
  role: 'redis' | 'redisCache',
  publishedPort: number,
  env: Environment,
  service: ServiceName,
  problems: ConfigProblem[],
): RedisEndpoint | undefined {
  const raw = env[urlVariable];
  let host: string = profileHosts[env.QUAD_PROFILE][role];
  let port = env.QUAD_PROFILE === 'container' ? containerPorts[role] : publishedPort;
  let db = 0;
  let tls = false;
  let username = env.REDIS_USERNAME ?? service;
  let password = env.REDIS_PASSWORD;
  let passwordVariable = 'REDIS_PASSWORD';
  let clusterNodes: RedisNode[] | undefined;

  const rawNodes = env[clusterVariable];
  if (rawNodes !== undefined) {
    if (raw !== undefined) {
      problems.push({
        variable: clusterVariable,
        message: `and ${urlVariable} are both set: a Redis role is either one server or a cluster`,
      });
      return undefined;
    }
    clusterNodes = parseClusterNodes(clusterVariable, rawNodes, problems);
    if (!clusterNodes) return undefined;
    host = (clusterNodes[0] as RedisNode).host;
    port = (clusterNodes[0] as RedisNode).port;
  }

  if (raw !== undefined) {
    const parsed = parseUrl(urlVariable, raw, ['redis:', 'rediss:'], REDIS_URL_FORM, problems);
    if (!parsed) return undefined;
    host = parsed.url.hostname.replace(/^\[(.*)\]$/, '$1');
    port = parsed.url.port === '' ? 6379 : Number(parsed.url.port);
    tls = parsed.url.protocol === 'rediss:';
    const path = parsed.url.pathname.replace(/^\//, '');
    if (path !== '') {
      if (!/^\d+$/.test(path) || Number(path) > 15) {
        problems.push({
          variable: urlVariable,
          message: `has an invalid database "${path}" (0-15, expected ${REDIS_URL_FORM})`,
        });
        return undefined;
      }
      db = Number(path);
    }
    if (parsed.username !== undefined) username = parsed.username;
    if (parsed.password !== undefined) {
      password = parsed.password;
      passwordVariable = urlVariable;
    }
  }

  if (password === undefined) {
    // Reported once even though two endpoints read it.
    if (!problems.some((p) => p.variable === 'REDIS_PASSWORD')) {
      problems.push({
        variable: 'REDIS_PASSWORD',
        message: `is required: the password of the Redis ACL user "${username}" (Quad never connects to Redis without one)`,
      });
    }
    return undefined;
  }
  if (!problems.some((p) => p.variable === passwordVariable)) {
    checkSecret(passwordVariable, password, env.NODE_ENV, problems);
  }
  if (clusterNodes) {
    const seeds = clusterNodes.map((node) => `${hostDisplay(node.host)}:${node.port}`);
    return {
      host,
      port,
      clusterNodes,
      username,
      password,
      db: 0,
      tls,
      display: `redis-cluster://${username}@${seeds.join(',')}`,
    };
  }
  return {
    host,
    port,
    username,
    password,
    db,
    tls,
    display: `${tls ? 'rediss' : 'redis'}://${username}@${hostDisplay(host)}:${port}/${db}`,
  };
}

const POSTGRES_URL_FORM = 'postgres://user:password@host[:port]/database';

function resolvePostgres(
  env: Environment,
  problems: ConfigProblem[],
): PostgresSettings | undefined {
  if (env.DATABASE_URL !== undefined) {
    const parsed = parseUrl(
      'DATABASE_URL',
      env.DATABASE_URL,
      ['postgres:', 'postgresql:'],
      POSTGRES_URL_FORM,
      problems,
    );
    if (!parsed) return undefined;
    if (parsed.password === undefined && env.POSTGRES_PASSWORD === undefined) {
      problems.push({
        variable: 'POSTGRES_PASSWORD',
        message: 'is required (or put the password in DATABASE_URL)',
      });
      return undefined;
    }
    if (parsed.password === undefined && env.POSTGRES_PASSWORD !== undefined) {
      parsed.url.password = encodeURIComponent(env.POSTGRES_PASSWORD);
      checkSecret('POSTGRES_PASSWORD', env.POSTGRES_PASSWORD, env.NODE_ENV, problems);
    } else {
      checkSecret('DATABASE_URL', parsed.password, env.NODE_ENV, problems);
    }
    const display = new URL(parsed.url.href);
    display.password = '';
    return { connectionString: parsed.url.href, display: display.href };
  }

  if (env.POSTGRES_PASSWORD === undefined) {
    problems.push({ variable: 'POSTGRES_PASSWORD', message: 'is required' });
    return undefined;
  }
  checkSecret('POSTGRES_PASSWORD', env.POSTGRES_PASSWORD, env.NODE_ENV, problems);
  const host = profileHosts[env.QUAD_PROFILE].postgres;
  const port = env.QUAD_PROFILE === 'container' ? containerPorts.postgres : env.POSTGRES_PORT;
  const url = new URL(`postgres://${host}:${port}/`);
  url.username = encodeURIComponent(env.POSTGRES_USER);
  url.password = encodeURIComponent(env.POSTGRES_PASSWORD);
  url.pathname = `/${encodeURIComponent(env.POSTGRES_DB)}`;
  const display = new URL(url.href);
  display.password = '';
  return { connectionString: url.href, display: display.href };
}

function resolveLivekit(env: Environment, problems: ConfigProblem[]): ServiceConfig['livekit'] {
  let url = `ws://${profileHosts[env.QUAD_PROFILE].livekit}:${
    env.QUAD_PROFILE === 'container' ? containerPorts.livekit : env.LIVEKIT_PORT
  }`;
  if (env.LIVEKIT_URL !== undefined) {
    const parsed = parseUrl(
      'LIVEKIT_URL',
      env.LIVEKIT_URL,
      ['ws:', 'wss:', 'http:', 'https:'],
      'ws[s]://host[:port]',
      problems,
    );
    if (parsed) url = parsed.url.href.replace(/\/$/, '');
  }
  const publicUrl = resolveLivekitPublicUrl(env.LIVEKIT_PUBLIC_URL, problems) ?? url;
  const { LIVEKIT_API_KEY: apiKey, LIVEKIT_API_SECRET: apiSecret } = env;
  if ((apiKey === undefined) !== (apiSecret === undefined)) {
    problems.push({
      variable: apiKey === undefined ? 'LIVEKIT_API_KEY' : 'LIVEKIT_API_SECRET',
      message: 'must be set together with its pair (LIVEKIT_API_KEY and LIVEKIT_API_SECRET)',
    });
  }
  checkSecret('LIVEKIT_API_SECRET', apiSecret, env.NODE_ENV, problems);
  if (apiKey?.toLowerCase().includes(PLACEHOLDER_SECRET) && env.NODE_ENV === 'production') {
    problems.push({
      variable: 'LIVEKIT_API_KEY',
      message: `is the placeholder "${PLACEHOLDER_SECRET}" from .env.example`,
    });
  }
  return { url, publicUrl, apiKey, apiSecret };
}

/**
 * A path (`/livekit`) means "LiveKit's signalling on the origin you reached the api through":
 * behind the edge, one host name and one port serve the client, the api and LiveKit's
 * WebSocket, whatever name the institution gives them.
 */
function resolveLivekitPublicUrl(
  raw: string | undefined,
  problems: ConfigProblem[],
): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.startsWith('/')) {
    if (/^\/[A-Za-z0-9._~\-/]*$/.test(raw) && !raw.startsWith('//')) return raw.replace(/\/$/, '');
    problems.push({
      variable: 'LIVEKIT_PUBLIC_URL',
      message: 'must be a ws[s]://host[:port][/path] URL or a plain path such as /livekit',
    });
    return undefined;
  }
  const parsed = parseUrl(
    'LIVEKIT_PUBLIC_URL',
    raw,
    ['ws:', 'wss:'],
    'ws[s]://host[:port][/path], or a path such as /livekit',
    problems,
  );
  return parsed?.url.href.replace(/\/$/, '');
}

/** The api seals webhook secrets and the worker opens them to sign: both need the key. */
function resolveWebhookSecretKeys(
  service: ServiceName,
  env: Environment,
  problems: ConfigProblem[],
): WebhookSecretKeys | undefined {
  if (service === 'socket') return undefined;
  const current = env.WEBHOOK_SECRET_KEY;
  if (current === undefined) {
    // Already named when set but malformed.
    if (problems.some((problem) => problem.variable === 'WEBHOOK_SECRET_KEY')) return undefined;
    problems.push({
      variable: 'WEBHOOK_SECRET_KEY',
      message:
        'is required: it seals webhook signing secrets in PostgreSQL (scripts/ensure-env.sh generates it; `openssl rand -hex 32`)',
    });
    return undefined;
  }
  return { current, previous: env.WEBHOOK_SECRET_KEY_PREVIOUS };
}

const servicePortVariable = {
  api: 'API_PORT',
  socket: 'SOCKET_PORT',
  worker: 'WORKER_PORT',
} as const satisfies Record<ServiceName, keyof Environment>;

/**
 * Validates the environment for one service and resolves it into a typed config.
 * Throws a ConfigError listing every problem; never returns a partially valid config.
 */
export function loadServiceConfig(service: ServiceName, env: Env = process.env): ServiceConfig {
  const problems: ConfigProblem[] = [];
  const parsed = parseEnvironment(env, problems);
  if (!parsed) throw new ConfigError(service, problems);

  const state = resolveRedis(
    'REDIS_URL',
    'REDIS_CLUSTER_NODES',
    'redis',
    parsed.REDIS_PORT,
    parsed,
    service,
    problems,
  );
  const cache = resolveRedis(
    'REDIS_CACHE_URL',
    'REDIS_CACHE_CLUSTER_NODES',
    'redisCache',
    parsed.REDIS_CACHE_PORT,
    parsed,
    service,
    problems,
  );
  const postgres = resolvePostgres(parsed, problems);
  const livekit = resolveLivekit(parsed, problems);
  const secretKeys = resolveWebhookSecretKeys(service, parsed, problems);

  if (problems.length > 0 || !state || !cache || !postgres) {
    throw new ConfigError(service, problems);
  }
  return {
    service,
    nodeEnv: parsed.NODE_ENV,
    logLevel: parsed.LOG_LEVEL,
    profile: parsed.QUAD_PROFILE,
    http: {
      host: parsed.LISTEN_HOST ?? (parsed.QUAD_PROFILE === 'container' ? '0.0.0.0' : '127.0.0.1'),
      port: parsed[servicePortVariable[service]],
    },
    redis: { state, cache, keyPrefix: parsed.REDIS_KEY_PREFIX },
    postgres,
    livekit,
    worker: {
      concurrency: parsed.WORKER_CONCURRENCY,
      deliveryConcurrency: parsed.DELIVERY_CONCURRENCY,
    },
    rateLimits: resolveRateLimitPolicies(parsed.RATE_LIMITS),
    sessions: { ttlMs: parsed.SESSION_TTL_HOURS * 3_600_000 },
    presence: { ttlMs: parsed.PRESENCE_TTL_MS },
    webhooks: {
      concurrency: parsed.WEBHOOK_CONCURRENCY,
      maxAttempts: parsed.WEBHOOK_MAX_ATTEMPTS,
      backoffBaseMs: parsed.WEBHOOK_BACKOFF_BASE_MS,
      allowedHosts: parsed.WEBHOOK_ALLOWED_HOSTS,
      secretKeys,
    },
  };
}

/** For commands that need only PostgreSQL (migrations, admin CLI). */
export function loadDatabaseConfig(env: Env = process.env): BaseConfig {
  const problems: ConfigProblem[] = [];
  const parsed = parseEnvironment(env, problems);
  if (!parsed) throw new ConfigError('cli', problems);
  const postgres = resolvePostgres(parsed, problems);
  if (problems.length > 0 || !postgres) throw new ConfigError('cli', problems);
  return {
    nodeEnv: parsed.NODE_ENV,
    logLevel: parsed.LOG_LEVEL,
    profile: parsed.QUAD_PROFILE,
    postgres,
  };
}

/**
 * Composition roots call this: on a ConfigError it prints the full list to stderr and exits
 * with EX_CONFIG (78), before any client is created.
 */
export function loadOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}
