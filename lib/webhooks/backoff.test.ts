import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fullJitterDelayMs } from './backoff.js';

describe('fullJitterDelayMs', () => {
  const settings = { backoffBaseMs: 100, backoffMaxMs: 1_000 };

  it('doubles the window each retry, from 0 to its ceiling', () => {
    assert.equal(
      fullJitterDelayMs(1, settings, () => 0),
      0,
    );
    assert.equal(
      fullJitterDelayMs(1, settings, () => 0.999_999),
      100,
    );
    assert.equal(
      fullJitterDelayMs(2, settings, () => 0.999_999),
      200,
    );
    assert.equal(
      fullJitterDelayMs(3, settings, () => 0.999_999),
      400,
    );
  });

  it('never exceeds the cap, however many retries', () => {
    assert.equal(
      fullJitterDelayMs(4, settings, () => 0.999_999),
      800,
    );
    assert.equal(
      fullJitterDelayMs(5, settings, () => 0.999_999),
      1_000,
    );
    assert.equal(
      fullJitterDelayMs(500, settings, () => 0.999_999),
      1_000,
    );
  });

  it('spreads retries over the window', () => {
    const seen = new Set(
      Array.from({ length: 200 }, () => Math.floor(fullJitterDelayMs(3, settings) / 100)),
    );
    assert.ok(seen.size >= 4, `delays fell in ${seen.size} of 5 buckets`);
  });
});
