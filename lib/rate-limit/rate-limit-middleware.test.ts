import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultRateLimitPolicies } from '../policy/rate-limit.policies.js';
import { rateLimitItem, rateLimitPolicyItem } from './rate-limit-middleware.js';

describe('RateLimit header items (draft-ietf-httpapi-ratelimit-headers-11)', () => {
  it('formats RateLimit-Policy items: quota, window in seconds, vendor burst for gcra', () => {
    assert.equal(
      rateLimitPolicyItem('login-ip', defaultRateLimitPolicies['login-ip']),
      '"login-ip";q=100;w=600',
    );
    assert.equal(
      rateLimitPolicyItem('api-anonymous', defaultRateLimitPolicies['api-anonymous']),
      '"api-anonymous";q=600;w=60;quad-burst=100',
    );
  });

  it('formats RateLimit items: remaining units and whole seconds, rounded up', () => {
    const decision = {
      policy: 'message-send' as const,
      allowed: true,
      limit: 30,
      windowMs: 10_000,
      remaining: 42,
      retryAfterMs: 0,
      resetMs: 16_001,
      source: 'redis' as const,
    };
    assert.equal(rateLimitItem(decision), '"message-send";r=42;t=17');
    assert.equal(
      rateLimitItem({ ...decision, remaining: 0, resetMs: 0 }),
      '"message-send";r=0;t=0',
    );
  });
});
