import { z } from 'zod';

/**
 * Every rate limit Quad enforces, in one table: who is counted (subject), how much (limit per
 * window), how (algorithm), and what happens when Redis is gone (failure mode). The numbers are
 * defaults with their reasons; operators override them without code changes through the
 * RATE_LIMITS environment variable (validated in lib/config, merged by resolveRateLimitPolicies).
 *
 * Pure data and validation (no Redis, no Express), kept with the other policy tables rather
 * than in lib/rate-limit: lib/config validates RATE_LIMITS against it at start-up, and the
 * configuration must not depend on a capability (lib/rate-limit re-exports it from its index).
 */

/** Whose budget a request spends. */
export type RateLimitSubjectKind =
  /** The client address as Express sees it (`req.ip`, honouring `trust proxy`). */
  | 'ip'
  /** A user id, or for login-account the normalised account name being logged into. */
  | 'user'
  /** An integration's API key id (never the secret itself). */
  | 'apiKey'
  /** A user on one route, for routes that cost more than the rest (built by userRouteSubject). */
  | 'userRoute';

/**
 * - `sliding-window-log`: exact. A sorted set holds one entry per admitted unit with its Redis
 *   time; a request is admitted only if the units in the last `windowMs` plus its cost fit in
 *   `limit`. Memory grows with the limit (MEMORY USAGE: about 30 bytes per unit up to 128
 *   units, about 110 beyond), so it suits low limits where exactness matters: logins,
 *   message sending.
 * - `gcra`: the generic cell rate algorithm, O(1) memory (one string per subject: its
 *   theoretical arrival time). Units are restored one every `windowMs / limit`, and up to
 *   `burst` can be spent at once. Its error against an exact window is bounded and documented:
 *   in ANY interval of length t it admits at most `burst + t * limit / windowMs` units, so a
 *   window of `windowMs` sees at most `limit + burst` (and an idle subject gets `burst` at
 *   once). Suits high-volume policies where memory per subject matters.
 */
export type RateLimitAlgorithm = 'sliding-window-log' | 'gcra';

/**
 * What a check does when Redis cannot answer (down, timed out, refused):
 * - `open`: admit. For reads, where an outage must not turn into refusals.
 * - `closed`: decide with an in-process limiter of the same limits (per process, so N instances
 *   admit at most N times the limit). Never "refuse everyone" and never "unlimited".
 */
export type RateLimitFailureMode = 'open' | 'closed';

export interface RateLimitPolicy {
  subject: RateLimitSubjectKind;
  algorithm: RateLimitAlgorithm;
  /** Units admitted per window (a request usually costs 1 unit). */
  limit: number;
  /** Window in milliseconds; whole seconds, because the RateLimit-Policy header's `w` is. */
  windowMs: number;
  /** gcra only: units that can be spent at once by an idle subject (1 = strict pacing). */
  burst?: number;
  failureMode: RateLimitFailureMode;
}

const MINUTE = 60_000;

/** The defaults. Keys are the policy names used in Redis keys, metrics and HTTP headers. */
export const defaultRateLimitPolicies = {
  /** Requests without a user: before login, public endpoints, health of integrations. A whole
   *  school or campus often reaches Quad through one NAT address, and 8:00 brings hundreds of
   *  page loads at once, so the per-IP budget is generous (10/s sustained, 100 at once); it
   *  stops a single scraper or a runaway script, not a classroom. Reads: fail open. */
  'api-anonymous': {
    subject: 'ip',
    algorithm: 'gcra',
    limit: 600,
    windowMs: MINUTE,
    burst: 100,
    failureMode: 'open',
  },
  /** LiveKit's webhook, per address, spent before the signature is checked (so a flood of
   *  forged posts is stopped before it costs a JWT check and a PostgreSQL write). LiveKit posts
   *  every event of every call (joins, leaves, tracks published and unpublished, rooms started
   *  and finished) from one address: a campus with 200 live calls of 30 produces thousands a
   *  minute at 8:00, far beyond what api-anonymous lets one address do. 100/s sustained with
   *  a burst of 1,000. Fail open: a dropped webhook is repaired by the reconciler, but only
   *  seconds later. */
  'livekit-webhook': {
    subject: 'ip',
    algorithm: 'gcra',
    limit: 6_000,
    windowMs: MINUTE,
    burst: 1_000,
    failureMode: 'open',
  },
  /** Authenticated requests per user. Opening the client fires dozens of parallel requests
   *  (conversations, unread counts, recent messages of several rooms), hence the burst of 200;
   *  20/s sustained is far above what a person produces. Reads: fail open. */
  'api-user': {
    subject: 'user',
    algorithm: 'gcra',
    limit: 1_200,
    windowMs: MINUTE,
    burst: 200,
    failureMode: 'open',
  },
  /** Login attempts per address. A classroom behind one NAT address logs in together (30-60
   *  students), so this is generous; guessing one account's password is stopped by
   *  login-account. Exact, and fail closed: an outage must never mean unlimited guessing. */
  'login-ip': {
    subject: 'ip',
    algorithm: 'sliding-window-log',
    limit: 100,
    windowMs: 10 * MINUTE,
    failureMode: 'closed',
  },
  /** Login attempts per account, from anywhere. A person who mistypes a few times is not
   *  locked out; online guessing is capped at 10 tries per 15 minutes (under 1,000 a day). */
  'login-account': {
    subject: 'user',
    algorithm: 'sliding-window-log',
    limit: 10,
    windowMs: 15 * MINUTE,
    failureMode: 'closed',
  },
  /** Messages per user, shared by HTTP and the socket gateway (same key, so switching transport
   *  does not double the budget). A 10 s window forgets a burst quickly; 30 in it lets a person
   *  paste a burst of short lines but stops scripted floods. Fail closed: spam during an outage
   *  would land on every member's screen, and the per-process fallback is still far above a
   *  human. */
  'message-send': {
    subject: 'user',
    algorithm: 'sliding-window-log',
    limit: 30,
    windowMs: 10_000,
    failureMode: 'closed',
  },
  /** Integrations (student information system sync, LMS bots) batch their work: 50/s
   *  sustained with bursts of 300. Fail open: an integration's reads must not fail with Redis. */
  'api-key': {
    subject: 'apiKey',
    algorithm: 'gcra',
    limit: 3_000,
    windowMs: MINUTE,
    burst: 300,
    failureMode: 'open',
  },
  /** Typing signals per user over the socket gateway, across all instances (a person typing in
   *  two tabs shares one budget). A client sends one when typing starts and refreshes it every
   *  few seconds; 1/s sustained with a burst of 10 covers switching between conversations while
   *  typing. Fail open: a typing indicator is ephemeral and harmless, and Redis being down
   *  means typing state is unavailable anyway. */
  'socket-typing': {
    subject: 'user',
    algorithm: 'gcra',
    limit: 60,
    windowMs: MINUTE,
    burst: 10,
    failureMode: 'open',
  },
} as const satisfies Record<string, RateLimitPolicy>;

export type RateLimitPolicyName = keyof typeof defaultRateLimitPolicies;
export type RateLimitPolicies = Record<RateLimitPolicyName, RateLimitPolicy>;

export const rateLimitPolicyNames = Object.keys(defaultRateLimitPolicies) as RateLimitPolicyName[];

/** Bounds that keep a policy meaningful and Redis memory bounded. */
export const rateLimitBounds = {
  /** A sliding-window log stores one sorted-set entry per unit: 10,000 units is ~1.1 MB per
   *  subject at worst. Higher limits belong to gcra. */
  maxLogLimit: 10_000,
  maxLimit: 1_000_000,
  maxWindowMs: 24 * 60 * MINUTE,
} as const;

/** How the limiter itself behaves, whatever the policy. */
export const rateLimitRuntime = {
  /** Subjects the in-process fallback of `closed` policies remembers per process, least
   *  recently used evicted first. 100,000 covers every account and address of a large campus
   *  during an outage in a few tens of MB; an attacker rotating more addresses than that only
   *  evicts its own oldest entries sooner. */
  fallbackMaxSubjects: 100_000,
} as const;

const policyOverrideSchema = z
  .object({
    limit: z
      .number()
      .int()
      .min(1)
      .max(rateLimitBounds.maxLimit, { error: `must be at most ${rateLimitBounds.maxLimit}` }),
    windowMs: z
      .number()
      .int()
      .min(1_000, { error: 'must be at least 1000 (1 s)' })
      .max(rateLimitBounds.maxWindowMs, { error: 'must be at most 86400000 (24 h)' })
      .multipleOf(1_000, { error: 'must be whole seconds (a multiple of 1000)' }),
    burst: z.number().int().min(1).max(rateLimitBounds.maxLimit),
    algorithm: z.enum(['sliding-window-log', 'gcra']),
  })
  .partial()
  .strict();

export type RateLimitPolicyOverride = z.infer<typeof policyOverrideSchema>;
export type RateLimitOverrides = Partial<Record<RateLimitPolicyName, RateLimitPolicyOverride>>;

const overridesSchema = z
  .object(
    Object.fromEntries(rateLimitPolicyNames.map((name) => [name, policyOverrideSchema.optional()])),
  )
  .strict();

/** Problems with a merged policy that no single field shows (e.g. a log too large). */
function policyProblems(name: string, policy: RateLimitPolicy): string[] {
  const problems: string[] = [];
  if (policy.algorithm === 'sliding-window-log' && policy.limit > rateLimitBounds.maxLogLimit) {
    problems.push(
      `${name}.limit: a sliding-window-log keeps one entry per unit, so its limit must be at most ${rateLimitBounds.maxLogLimit} (use "algorithm":"gcra" for higher limits)`,
    );
  }
  return problems;
}

/**
 * Parses the RATE_LIMITS variable: JSON such as `{"login-ip":{"limit":20,"windowMs":60000}}`.
 * Returns the overrides or every problem, each naming the policy and field, so the config
 * loader can report them all under the variable's name.
 */
export function parseRateLimitOverrides(
  raw: string,
): { ok: true; overrides: RateLimitOverrides } | { ok: false; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return {
      ok: false,
      problems: ['is not valid JSON (expected e.g. {"login-ip":{"limit":20,"windowMs":60000}})'],
    };
  }
  const parsed = overridesSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => {
        const where = issue.path.map(String).join('.');
        if (issue.code === 'unrecognized_keys') {
          const known =
            issue.path.length === 0
              ? `known policies: ${rateLimitPolicyNames.join(', ')}`
              : 'known fields: limit, windowMs, burst, algorithm';
          return `${where === '' ? '' : `${where}: `}unknown ${issue.keys.map((k) => `"${k}"`).join(', ')} (${known})`;
        }
        return `${where === '' ? '' : `${where}: `}${issue.message}`;
      }),
    };
  }
  const overrides = parsed.data as RateLimitOverrides;
  const problems = rateLimitPolicyNames.flatMap((name) =>
    policyProblems(name, mergePolicy(defaultRateLimitPolicies[name], overrides[name])),
  );
  return problems.length > 0 ? { ok: false, problems } : { ok: true, overrides };
}

function mergePolicy(base: RateLimitPolicy, override: RateLimitPolicyOverride | undefined) {
  const merged: RateLimitPolicy = { ...base, ...override };
  // A policy switched to gcra without a burst gets the gentlest honest default: a full
  // window's worth is what an exact window would also allow at once.
  if (merged.algorithm === 'gcra' && merged.burst === undefined) merged.burst = merged.limit;
  return merged;
}

/** The table with validated overrides applied: what services run with. */
export function resolveRateLimitPolicies(overrides: RateLimitOverrides = {}): RateLimitPolicies {
  return Object.fromEntries(
    rateLimitPolicyNames.map((name) => [
      name,
      mergePolicy(defaultRateLimitPolicies[name], overrides[name]),
    ]),
  ) as RateLimitPolicies;
}

/** The subject of a `userRoute` policy: one user on one route pattern (never a raw URL). */
export function userRouteSubject(userId: string, routePattern: string): string {
  return `${userId} ${routePattern}`;
}
