import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadServiceConfig } from '../config/index.js';
import { policy } from '../policy/policy.js';

// The WEBHOOK_* variables (docs/configuration.md) as the worker and the api resolve them.
const minimal = { REDIS_PASSWORD: 'redis-secret', POSTGRES_PASSWORD: 'pg-secret' };

describe('webhook configuration', () => {
  it('defaults to the policy table and any host', () => {
    const { webhooks } = loadServiceConfig('worker', minimal);
    assert.deepEqual(webhooks, {
      concurrency: policy.webhooks.concurrency,
      maxAttempts: policy.webhooks.maxAttempts,
      backoffBaseMs: policy.webhooks.backoffBaseMs,
      allowedHosts: undefined,
    });
  });

  it('reads overrides and a normalised allow-list', () => {
    const { webhooks } = loadServiceConfig('worker', {
      ...minimal,
      WEBHOOK_CONCURRENCY: '32',
      WEBHOOK_MAX_ATTEMPTS: '3',
      WEBHOOK_BACKOFF_BASE_MS: '250',
      WEBHOOK_ALLOWED_HOSTS: ' Hooks.Example.org, *.school.example ,[::1],',
    });
    assert.deepEqual(webhooks, {
      concurrency: 32,
      maxAttempts: 3,
      backoffBaseMs: 250,
      allowedHosts: ['hooks.example.org', '*.school.example', '[::1]'],
    });
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
