import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadServiceConfig } from '../config/index.js';
import { policy } from '../policy/policy.js';

// The WEBHOOK_* variables (docs/configuration.md) as the worker and the api resolve them.
const minimal = {
  REDIS_PASSWORD: 'redis-secret',
  POSTGRES_PASSWORD: 'pg-secret',
  WEBHOOK_SECRET_KEY: '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff',
};

const previousKey = Buffer.alloc(32, 7);

function problemsOf(service: 'api' | 'worker', env: Record<string, string>): string[] {
  try {
    loadServiceConfig(service, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map((problem) => problem.variable).sort();
  }
  assert.fail('expected a ConfigError');
}

describe('webhook configuration', () => {
  it('defaults to the policy table and any host', () => {
    const { webhooks } = loadServiceConfig('worker', minimal);
    assert.deepEqual(webhooks, {
      concurrency: policy.webhooks.concurrency,
      maxAttempts: policy.webhooks.maxAttempts,
      backoffBaseMs: policy.webhooks.backoffBaseMs,
      allowedHosts: undefined,
      secretKeys: { current: Buffer.from(minimal.WEBHOOK_SECRET_KEY, 'hex'), previous: undefined },
    });
  });

  it('reads overrides and a normalised allow-list', () => {
    const { webhooks } = loadServiceConfig('worker', {
      ...minimal,
      WEBHOOK_CONCURRENCY: '32',
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_BACKOFF_BASE_MS: '250',
      WEBHOOK_ALLOWED_HOSTS: ' Hooks.Example.org, *.school.example ,[::1],',
      WEBHOOK_SECRET_KEY_PREVIOUS: previousKey.toString('base64'),
    });
    assert.deepEqual(webhooks, {
      concurrency: 32,
      maxAttempts: 3,
      backoffBaseMs: 250,
      allowedHosts: ['hooks.example.org', '*.school.example', '[::1]'],
      secretKeys: {
        current: Buffer.from(minimal.WEBHOOK_SECRET_KEY, 'hex'),
        previous: previousKey,
      },
    });
  });

  it('requires WEBHOOK_SECRET_KEY for the api and the worker, never gives it to the socket', () => {
    for (const service of ['api', 'worker'] as const) {
      const { WEBHOOK_SECRET_KEY: _omitted, ...withoutKey } = minimal;
      assert.deepEqual(problemsOf(service, withoutKey), ['WEBHOOK_SECRET_KEY']);
      for (const bad of ['change-me', 'abcd', Buffer.alloc(16).toString('hex')]) {
        assert.deepEqual(problemsOf(service, { ...minimal, WEBHOOK_SECRET_KEY: bad }), [
          'WEBHOOK_SECRET_KEY',
        ]);
      }
      assert.deepEqual(problemsOf(service, { ...minimal, WEBHOOK_SECRET_KEY_PREVIOUS: 'x' }), [
        'WEBHOOK_SECRET_KEY_PREVIOUS',
      ]);
    }
    assert.equal(loadServiceConfig('socket', minimal).webhooks.secretKeys, undefined);
  });

  it('names every bad variable', () => {
    try {
      loadServiceConfig('worker', {
        ...minimal,
        WEBHOOK_MAX_ATTEMPTS: '0',
        WEBHOOK_ALLOWED_HOSTS: 'https://hooks.example.org/path',
      });
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      const variables = error.problems.map((problem) => problem.variable).sort();
      assert.deepEqual(variables, ['WEBHOOK_ALLOWED_HOSTS', 'WEBHOOK_MAX_ATTEMPTS']);
    }
  });
});
