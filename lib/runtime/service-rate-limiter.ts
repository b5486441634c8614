import { createRateLimiter, type RateLimiter } from '../rate-limit/index.js';
import { RedisBreaker } from '../redis/redis-breaker.js';
import type { ServiceRuntime } from './service-runtime.js';

/**
 * The rate limiter every user-facing service runs (api over HTTP, socket gateway over
 * WebSockets): the configured policies (RATE_LIMITS) on the state Redis, shared by every
 * instance, behind that Redis' breaker so a hung Redis costs only the checks that open it.
 * Called only from composition roots (and benchmarks that build the api as one does).
 */
export function createServiceRateLimiter(
  runtime: Pick<ServiceRuntime, 'config' | 'logger' | 'metrics' | 'redis'>,
): RateLimiter {
  const { config, logger, metrics } = runtime;
  return createRateLimiter({
    redis: runtime.redis.state,
    breaker: new RedisBreaker({
      name: 'state',
      redis: runtime.redis.state,
      registry: metrics,
      logger,
    }),
    keyPrefix: config.redis.keyPrefix,
    policies: config.rateLimits,
    registry: metrics,
    logger,
  });
}
