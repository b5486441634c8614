import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { sendProblem } from '../http/problem.js';
import { problemFor } from '../http/problem-codes.js';
import type { RateLimitPolicy, RateLimitPolicyName } from '../policy/rate-limit.policies.js';
import type { RateLimitDecision, RateLimiter } from './rate-limiter.js';

/*
 * Headers follow draft-ietf-httpapi-ratelimit-headers-11 (May 2026), sections 3 and 4:
 *
 *   RateLimit-Policy: "api-anonymous";q=600;w=60;quad-burst=100
 *   RateLimit: "api-anonymous";r=42;t=17
 *
 * Both are Structured Field Lists (RFC 9651) whose items are the policy name as an sf-string:
 * `q` is the quota in units per window, `w` the window in seconds, `r` the units available now,
 * `t` the "effective window": seconds within which the client can spend no more than `r`,
 * i.e. until at least one more unit comes back. `quad-burst` is a vendor-prefixed parameter,
 * as the draft asks for implementation-specific ones: how much a gcra policy admits at once.
 * Several policies on one request append list members rather than overwrite each other.
 */

/** `"name";q=..;w=..` for the RateLimit-Policy field. */
export function rateLimitPolicyItem(name: RateLimitPolicyName, policy: RateLimitPolicy): string {
  const burst = policy.algorithm === 'gcra' ? `;quad-burst=${policy.burst ?? policy.limit}` : '';
  return `"${name}";q=${policy.limit};w=${Math.ceil(policy.windowMs / 1000)}${burst}`;
}

/** `"name";r=..;t=..` for the RateLimit field. */
export function rateLimitItem(decision: RateLimitDecision): string {
  return `"${decision.policy}";r=${Math.max(0, decision.remaining)};t=${Math.ceil(decision.resetMs / 1000)}`;
}

export interface RateLimitMiddlewareOptions {
  policy: RateLimitPolicyName;
  /** Whose budget this request spends; undefined skips the policy for this request (e.g. a
   *  per-user policy on a request without a user). */
  subject(req: Request): string | undefined;
  /** Units this request costs; default 1. */
  cost?(req: Request): number;
}

/**
 * Express middleware applying one policy. Allowed requests carry `RateLimit-Policy` and
 * `RateLimit`; a rejected one is answered here with 429, `Retry-After` (seconds) and an
 * application/problem+json body with code `rate_limited`. While Redis cannot answer an `open`
 * policy, the request passes with `RateLimit-Policy` only: no count is known, and a made-up
 * `RateLimit` would mislead the client.
 */
export function rateLimitMiddleware(
  limiter: RateLimiter,
  options: RateLimitMiddlewareOptions,
): RequestHandler {
  const policyItem = rateLimitPolicyItem(options.policy, limiter.policies[options.policy]);
  return async (req: Request, res: Response, next: NextFunction) => {
    const subject = options.subject(req);
    if (subject === undefined || subject === '') {
      next();
      return;
    }
    const decision = await limiter.check(options.policy, subject, options.cost?.(req) ?? 1);
    res.append('RateLimit-Policy', policyItem);
    if (decision.source !== 'unchecked') res.append('RateLimit', rateLimitItem(decision));
    if (decision.allowed) {
      next();
      return;
    }
    const retryAfterSeconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
    res.setHeader('Retry-After', String(retryAfterSeconds));
    sendProblem(
      res,
      problemFor('rate_limited', {
        detail: `Rate limit "${decision.policy}" exceeded (${decision.limit} per ${decision.windowMs / 1000} s); retry in ${retryAfterSeconds} s.`,
        policy: decision.policy,
        retryAfterSeconds,
        // The draft's quota-exceeded problem type names the policies this way (section 5.1).
        'violated-policies': [decision.policy],
      }),
    );
  };
}
