import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadServiceConfig } from '../config/config.loader.js';
import { ConfigError } from '../config/config-error.js';
import {
  defaultRateLimitPolicies,
  parseRateLimitOverrides,
  rateLimitPolicyNames,
  resolveRateLimitPolicies,
} from './rate-limit.policies.js';

const minimal = {
  REDIS_PASSWORD: 'redis-secret',
  POSTGRES_PASSWORD: 'pg-secret',
  WEBHOOK_SECRET_KEY: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
};

function problemsOf(raw: string): string[] {
  const result = parseRateLimitOverrides(raw);
  assert.equal(result.ok, false, `expected ${raw} to be refused`);
  return result.ok ? [] : result.problems;
}

describe('rate-limit policy table', () => {
  it('has the policies the platform needs, each usable as shipped', () => {
    assert.deepEqual(rateLimitPolicyNames.sort(), [
      'api-anonymous',
      'api-key',
      'api-user',
      'livekit-webhook',
      'login-account',
      'login-ip',
      'message-send',
      'socket-typing',
    ]);
    for (const [name, policy] of Object.entries(resolveRateLimitPolicies())) {
      assert.equal(policy.windowMs % 1000, 0, `${name}: whole seconds (RateLimit-Policy w=)`);
      assert.ok(policy.limit >= 1, name);
      if (policy.algorithm === 'gcra') assert.ok((policy.burst ?? 0) >= 1, `${name}: burst`);
      else assert.ok(policy.limit <= 10_000, `${name}: a log stays small`);
    }
    // Brute-force protection must never turn into "unlimited" when Redis is gone.
    assert.equal(defaultRateLimitPolicies['login-ip'].failureMode, 'closed');
    assert.equal(defaultRateLimitPolicies['login-account'].failureMode, 'closed');
    assert.equal(defaultRateLimitPolicies['api-anonymous'].failureMode, 'open');
  });

  it('applies operator overrides field by field', () => {
    const result = parseRateLimitOverrides(
      '{"login-ip":{"limit":20,"windowMs":60000},"api-user":{"burst":5},"message-send":{"algorithm":"gcra"}}',
    );
    assert.ok(result.ok);
    const policies = resolveRateLimitPolicies(result.overrides);
    assert.deepEqual(policies['login-ip'], {
      ...defaultRateLimitPolicies['login-ip'],
      limit: 20,
      windowMs: 60_000,
    });
    assert.equal(policies['api-user'].burst, 5);
    assert.equal(policies['api-user'].limit, defaultRateLimitPolicies['api-user'].limit);
    // A log switched to gcra gets a burst of one window's limit unless told otherwise.
    assert.equal(policies['message-send'].algorithm, 'gcra');
    assert.equal(policies['message-send'].burst, policies['message-send'].limit);
    assert.deepEqual(resolveRateLimitPolicies()['api-key'], defaultRateLimitPolicies['api-key']);
  });

  it('names the policy and field of every problem', () => {
    assert.deepEqual(problemsOf('{login-ip: 20}'), [
      'is not valid JSON (expected e.g. {"login-ip":{"limit":20,"windowMs":60000}})',
    ]);
    assert.match(problemsOf('{"login-ipp":{"limit":20}}').join(), /unknown "login-ipp".*login-ip/);
    assert.match(problemsOf('{"login-ip":{"limt":20}}').join(), /^login-ip: unknown "limt"/);
    const several = problemsOf(
      '{"login-ip":{"limit":0,"windowMs":1500},"api-key":{"algorithm":"fixed"}}',
    );
    assert.equal(several.length, 3, several.join('\n'));
    assert.ok(several.some((p) => p.startsWith('login-ip.limit: ')));
    assert.ok(
      several.some((p) => p === 'login-ip.windowMs: must be whole seconds (a multiple of 1000)'),
    );
    assert.ok(several.some((p) => p.startsWith('api-key.algorithm: ')));
    assert.match(
      problemsOf('{"login-ip":{"limit":50000}}').join(),
      /^login-ip.limit: a sliding-window-log keeps one entry per unit/,
    );
    assert.match(problemsOf('[1]').join(), /expected object/i);
  });

  it('is read from RATE_LIMITS by the config loader, problems reported under that name', () => {
    const config = loadServiceConfig('api', {
      ...minimal,
      RATE_LIMITS: '{"login-ip":{"limit":20,"windowMs":60000}}',
    });
    assert.equal(config.rateLimits['login-ip'].limit, 20);
    assert.deepEqual(loadServiceConfig('api', minimal).rateLimits, resolveRateLimitPolicies());
    assert.deepEqual(
      loadServiceConfig('api', { ...minimal, RATE_LIMITS: '' }).rateLimits,
      resolveRateLimitPolicies(),
    );

    try {
      loadServiceConfig('api', {
        ...minimal,
        API_PORT: '0',
        RATE_LIMITS: '{"login-ip":{"limit":-1},"nope":{}}',
      });
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      const variables = error.problems.map((p) => p.variable);
      assert.deepEqual(variables.sort(), ['API_PORT', 'RATE_LIMITS', 'RATE_LIMITS']);
      assert.match(error.message, /RATE_LIMITS: login-ip.limit: /);
      assert.match(error.message, /RATE_LIMITS: unknown "nope"/);
    }
  });
});
