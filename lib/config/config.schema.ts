import { z } from 'zod';
import { policy } from '../policy/policy.js';
import { parseRateLimitOverrides } from '../policy/rate-limit.policies.js';
import { parseSecretKey } from './secret-key.js';
import { tracingEnvironmentShape } from './tracing.schema.js';

/**
 * Every environment variable any Quad process reads, with its default. This is the only place
 * that knows their names and types; services receive the resolved `ServiceConfig`
 * (config.loader.ts). Documented for operators in docs/configuration.md.
 */

// Compose passes unset variables as empty strings (`${VAR:-}`): treat '' as unset.
const unsetIfEmpty = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/** A whole number in [min, max] with a default, and one plain message for any violation. */
const wholeNumber = (min: number, max: number, fallback: number, message: string) =>
  z.preprocess(
    unsetIfEmpty,
    z.coerce
      .number({ error: message })
      .int({ error: message })
      .min(min, { error: message })
      .max(max, { error: message })
      .default(fallback),
  );

const port = (fallback: number) =>
  wholeNumber(1, 65535, fallback, 'must be a port number between 1 and 65535');

const optionalText = z.preprocess(unsetIfEmpty, z.string().optional());

/** A 256-bit key: 64 hex characters (scripts/ensure-env.sh) or base64. */
const optionalKey = z.preprocess(
  unsetIfEmpty,
  z
    .string()
    .transform((raw, ctx) => {
      const key = parseSecretKey(raw);
      if (key) return key;
      ctx.addIssue({
        code: 'custom',
        message:
          'must be 32 random bytes as 64 hex characters or base64 (scripts/ensure-env.sh generates one; `openssl rand -hex 32`)',
      });
      return z.NEVER;
    })
    .optional(),
);

export const environmentSchema = z.object({
  NODE_ENV: z.preprocess(
    unsetIfEmpty,
    z
      .enum(['development', 'test', 'production'], {
        error: 'must be one of development, test, production',
      })
      .default('development'),
  ),
  LOG_LEVEL: z.preprocess(
    unsetIfEmpty,
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        error: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info'),
  ),
  /** container: service names on the compose network; host: 127.0.0.1 and published ports. */
  QUAD_PROFILE: z.preprocess(
    unsetIfEmpty,
    z.enum(['container', 'host'], { error: 'must be container or host' }).default('host'),
  ),
  /** Interface the service listens on; default 0.0.0.0 in containers, 127.0.0.1 on a host. */
  LISTEN_HOST: optionalText,
  API_PORT: port(3000),
  SOCKET_PORT: port(3001),
  WORKER_PORT: port(3002),

  /** Full override of the state/queue Redis: redis[s]://[user[:password]@]host[:port][/db]. */
  REDIS_URL: optionalText,
  /** Full override of the cache Redis; same form. */
  REDIS_CACHE_URL: optionalText,
  /** The state Redis is a Redis Cluster: its seed nodes, comma-separated `host:port` (a few are
   *  enough, ioredis discovers the rest). Credentials come from REDIS_USERNAME/REDIS_PASSWORD;
   *  excludes REDIS_URL. docs/scaling.md. */
  REDIS_CLUSTER_NODES: optionalText,
  /** The cache Redis is a Redis Cluster: its seed nodes, same form; excludes REDIS_CACHE_URL. */
  REDIS_CACHE_CLUSTER_NODES: optionalText,
  /** Published ports used by the host profile. */
  REDIS_PORT: port(6379),
  REDIS_CACHE_PORT: port(6380),
  /** This process's Redis ACL user; defaults to the service name (api, socket, worker). */
  REDIS_USERNAME: optionalText,
  /** Password of that ACL user. Required: Quad never talks to a password-less Redis. */
  REDIS_PASSWORD: optionalText,
  /** Prefix of every key and channel; the ACL rules grant the services only this prefix. */
  REDIS_KEY_PREFIX: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .regex(/^[A-Za-z0-9:_.-]{1,32}$/, {
        error: 'may only contain A-Z a-z 0-9 : _ . - (at most 32 characters)',
      })
      .default('quad:'),
  ),

  /** Full override of the PostgreSQL connection: postgres://user:password@host:port/db. */
  DATABASE_URL: optionalText,
  POSTGRES_PORT: port(5432),
  POSTGRES_USER: z.preprocess(unsetIfEmpty, z.string().default('quad')),
  POSTGRES_PASSWORD: optionalText,
  POSTGRES_DB: z.preprocess(unsetIfEmpty, z.string().default('quad')),

  /** Full override of the LiveKit server URL (ws:// or wss://). */
  LIVEKIT_URL: optionalText,
  /**
   * What clients are told to connect to, when not LIVEKIT_URL: a ws(s):// URL, or a path such
   * as /livekit on the origin the client reached the api through (the edge).
   */
  LIVEKIT_PUBLIC_URL: optionalText,
  LIVEKIT_PORT: port(7880),
  LIVEKIT_API_KEY: optionalText,
  LIVEKIT_API_SECRET: optionalText,

  /** Jobs one worker process runs at once. */
  WORKER_CONCURRENCY: wholeNumber(1, 256, 4, 'must be a whole number between 1 and 256'),
  /** Delivery jobs (in-app notifications of a new message) one worker process runs at once.
   *  Each is a few milliseconds of PostgreSQL and one presence lookup: more than the other
   *  queues' WORKER_CONCURRENCY pays off (docs/performance.md). */
  DELIVERY_CONCURRENCY: wholeNumber(1, 256, 16, 'must be a whole number between 1 and 256'),

  /** Operator overrides of the rate-limit policy table (lib/policy/rate-limit.policies.ts),
   *  as JSON: {"login-ip":{"limit":20,"windowMs":60000}}. Each problem names policy and field. */
  RATE_LIMITS: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .transform((raw, ctx) => {
        const result = parseRateLimitOverrides(raw);
        if (result.ok) return result.overrides;
        for (const message of result.problems) ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      })
      .optional(),
  ),

  /** Jobs that deliver webhooks run at once per worker process (network-bound, so more than
   *  WORKER_CONCURRENCY). Default policy.webhooks.concurrency. */
  WEBHOOK_CONCURRENCY: wholeNumber(
    1,
    1_024,
    policy.webhooks.concurrency,
    'must be a whole number between 1 and 1024',
  ),
  /** Attempts per webhook delivery before it is dead-lettered (policy.webhooks.maxAttempts). */
  WEBHOOK_MAX_ATTEMPTS: wholeNumber(
    1,
    50,
    policy.webhooks.maxAttempts,
    'must be a whole number between 1 and 50',
  ),
  /** Base of the exponential backoff between webhook attempts, in ms (full jitter, capped at
   *  policy.webhooks.backoffMaxMs). Default policy.webhooks.backoffBaseMs. */
  WEBHOOK_BACKOFF_BASE_MS: wholeNumber(
    1,
    3_600_000,
    policy.webhooks.backoffBaseMs,
    'must be a whole number of milliseconds between 1 and 3600000',
  ),
  /** Hosts webhooks may be registered for and delivered to, comma-separated: `hooks.example.org`
   *  or `*.example.org` (any subdomain), `[::1]`. Unset: any host whose addresses are public;
   *  internal ones (loopback, private, link-local, ...) are always refused unless their host is
   *  named here, which is how an integration on the institution's own network is opened. */
  WEBHOOK_ALLOWED_HOSTS: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .transform((raw, ctx) => {
        const hosts = raw
          .split(',')
          .map((host) => host.trim().toLowerCase())
          .filter((host) => host !== '');
        for (const host of hosts) {
          if (!/^(\*\.)?[a-z0-9.-]+$|^\[[0-9a-f:.]+\]$/.test(host)) {
            ctx.addIssue({
              code: 'custom',
              message: `"${host}" is not a host name, *.domain or [IPv6] address`,
            });
          }
        }
        return hosts;
      })
      .optional(),
  ),

  /** Key that seals webhook signing secrets in PostgreSQL (AES-256-GCM). Required by the api
   *  and the worker; generated into the env file on first run. Rotation: docs/configuration.md. */
  WEBHOOK_SECRET_KEY: optionalKey,
  /** The key before a rotation: still opens secrets sealed with it until the worker has sealed
   *  them again with WEBHOOK_SECRET_KEY (at its start-up). Unset otherwise. */
  WEBHOOK_SECRET_KEY_PREVIOUS: optionalKey,

  /** Lifetime of a login session in hours (1 h to 1 year), from login; revocation and
   *  deactivation end it sooner. Default policy.accounts.sessions.defaultTtlHours (14 days). */
  SESSION_TTL_HOURS: wholeNumber(
    1,
    8_760,
    policy.accounts.sessions.defaultTtlHours,
    'must be a whole number of hours between 1 and 8760 (one year)',
  ),

  /** How long a connection counts as online after its last heartbeat, in milliseconds; a
   *  crashed gateway's users go offline within it. Heartbeats and sweeps run at a third of it
   *  at most. Default policy.presence.ttlMs (45 s). */
  PRESENCE_TTL_MS: wholeNumber(
    1_000,
    600_000,
    policy.presence.ttlMs,
    'must be a whole number of milliseconds between 1000 and 600000 (10 min)',
  ),

  /** OpenTelemetry tracing (read first by the tracing preload; see tracing.schema.ts). */
  ...tracingEnvironmentShape,
});

export type Environment = z.infer<typeof environmentSchema>;

/** The value .env.example ships for every secret; refused in production. */
export const PLACEHOLDER_SECRET = 'change-me';

/** Production secrets shorter than this are refused: they are guessable. */
export const MIN_PRODUCTION_SECRET_LENGTH = 16;
