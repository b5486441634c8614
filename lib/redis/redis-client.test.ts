import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { policy } from '../policy/policy.js';
import { reconnectDelay } from './redis-client.js';

describe('reconnectDelay', () => {
  const { reconnectBaseDelayMs: base, reconnectMaxDelayMs: cap } = policy.redis;

  it('grows exponentially and stays within [base, cap]', () => {
    const ceilings = [0, 1, 2, 3, 10, 50].map((attempt) => reconnectDelay(attempt, () => 1));
    assert.deepEqual(ceilings.slice(0, 4), [base, base * 2, base * 4, base * 8]);
    assert.equal(ceilings[4], cap);
    assert.equal(ceilings[5], cap);
  });

  it('is jittered: different random draws give different delays', () => {
    const delays = new Set([0.1, 0.4, 0.7, 0.95].map((r) => reconnectDelay(6, () => r)));
    assert.equal(delays.size, 4);
    for (const delay of delays) assert.ok(delay >= base && delay <= cap);
  });
});
