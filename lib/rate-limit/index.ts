export {
  defaultRateLimitPolicies,
  parseRateLimitOverrides,
  type RateLimitAlgorithm,
  type RateLimitFailureMode,
  type RateLimitOverrides,
  type RateLimitPolicies,
  type RateLimitPolicy,
  type RateLimitPolicyName,
  type RateLimitSubjectKind,
  rateLimitPolicyNames,
  rateLimitRuntime,
  resolveRateLimitPolicies,
  userRouteSubject,
} from '../policy/rate-limit.policies.js';
export { InProcessRateLimiter } from './in-process-limiter.js';
export { encodeSubject, rateLimitKey } from './rate-limit-key.js';
export { rateLimitMetrics } from './rate-limit-metrics.js';
export {
  type RateLimitMiddlewareOptions,
  rateLimitItem,
  rateLimitMiddleware,
  rateLimitPolicyItem,
} from './rate-limit-middleware.js';
export {
  createRateLimiter,
  RateLimitCostError,
  type RateLimitDecision,
  type RateLimitDecisionSource,
  RateLimiter,
  type RateLimiterOptions,
} from './rate-limiter.js';
