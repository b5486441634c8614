import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateReadiness, type ReadinessCheck } from './readiness.js';

const ok = (name: string, critical: boolean): ReadinessCheck => ({
  name,
  critical,
  run: async () => {},
});
const failing = (name: string, critical: boolean): ReadinessCheck => ({
  name,
  critical,
  run: async () => {
    throw new Error(`${name} is down`);
  },
});
const hanging = (name: string): ReadinessCheck => ({
  name,
  critical: true,
  run: () => new Promise(() => {}),
});

describe('evaluateReadiness', () => {
  it('is ready when every check passes', async () => {
    const report = await evaluateReadiness([ok('postgres', true), ok('redis', false)]);
    assert.equal(report.status, 'ready');
    assert.equal(report.checks.redis?.ok, true);
  });

  it('is degraded, not unavailable, when only a non-critical dependency fails', async () => {
    const report = await evaluateReadiness([ok('postgres', true), failing('redis', false)]);
    assert.equal(report.status, 'degraded');
    assert.equal(report.checks.redis?.error, 'redis is down');
  });

  it('is unavailable when a critical dependency fails', async () => {
    const report = await evaluateReadiness([failing('postgres', true), failing('redis', false)]);
    assert.equal(report.status, 'unavailable');
  });

  it('bounds a hanging check by the timeout', async () => {
    const report = await evaluateReadiness([hanging('postgres'), ok('redis', false)], 50);
    assert.equal(report.status, 'unavailable');
    assert.match(report.checks.postgres?.error ?? '', /no answer within 50 ms/);
  });
});
