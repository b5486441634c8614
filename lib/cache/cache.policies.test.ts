import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type CachePolicy,
  defaultCachePolicies,
  jitteredTtl,
  validateCachePolicies,
} from './cache.policies.js';

describe('cache policies', () => {
  it('the table is valid, every TTL is jittered, and hash tags are declared where used', () => {
    validateCachePolicies(defaultCachePolicies);
    for (const [name, entry] of Object.entries(defaultCachePolicies) as Array<
      [string, CachePolicy]
    >) {
      assert.ok(entry.jitter > 0, `${name} spreads its expiries`);
      assert.ok(entry.negativeTtlMs < entry.ttlMs, `${name}: not-found lives less than a value`);
    }
    assert.equal(defaultCachePolicies['unread-counts'].hashTag, 'user');
    assert.equal(defaultCachePolicies['unread-heads'].shards, 16);
    assert.equal(defaultCachePolicies.conversation.ttlMs, 24 * 60 * 60 * 1000, 'one day');
    assert.equal(defaultCachePolicies['recent-messages'].ttlMs, 2 * 60 * 60 * 1000, 'two hours');
  });

  it('names every bad entry at once', () => {
    assert.throws(
      () =>
        validateCachePolicies({
          Bad_Name: { ttlMs: 1_000, jitter: 0.1, negativeTtlMs: 0 },
          zero: { ttlMs: 0, jitter: 0.1, negativeTtlMs: 0 },
          wide: { ttlMs: 1_000, jitter: 1, negativeTtlMs: -1 },
          tagged: { ttlMs: 1_000, jitter: 0, negativeTtlMs: 0, hashTag: '{x}' },
          sharded: { ttlMs: 1_000, jitter: 0, negativeTtlMs: 0, shards: 0 },
        }),
      (error: Error) =>
        error instanceof RangeError &&
        [
          'Bad_Name',
          'zero: ttlMs',
          'wide: jitter',
          'wide: negativeTtlMs',
          'tagged: hashTag',
          'sharded: shards must be',
          'sharded: shards needs a hashTag',
        ].every((part) => error.message.includes(part)),
    );
  });

  it('jittered TTLs stay within ttl × [1 − jitter, 1 + jitter] and use the whole range', () => {
    assert.equal(
      jitteredTtl(10_000, 0.1, () => 0),
      9_000,
    );
    assert.equal(
      jitteredTtl(10_000, 0.1, () => 0.5),
      10_000,
    );
    assert.equal(
      jitteredTtl(10_000, 0.1, () => 0.999_999_9),
      11_000,
    );
    assert.equal(
      jitteredTtl(1, 0.5, () => 0),
      1,
      'never 0 (PX 0 is an error)',
    );
    const drawn = Array.from({ length: 1_000 }, () => jitteredTtl(60_000, 0.1));
    assert.ok(drawn.every((ttl) => ttl >= 54_000 && ttl <= 66_000));
    assert.ok(new Set(drawn).size > 100, 'spread, not a handful of values');
  });
});
