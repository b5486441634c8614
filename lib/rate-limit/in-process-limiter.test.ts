import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RateLimitPolicy } from '../policy/rate-limit.policies.js';
import { InProcessRateLimiter } from './in-process-limiter.js';

// The fallback mirrors the Lua scripts; its clock is injected so these unit tests are exact.
function clock() {
  let now = 1_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const log: RateLimitPolicy = {
  subject: 'ip',
  algorithm: 'sliding-window-log',
  limit: 3,
  windowMs: 1_000,
  failureMode: 'closed',
};
const gcra: RateLimitPolicy = {
  subject: 'user',
  algorithm: 'gcra',
  limit: 10,
  windowMs: 1_000,
  burst: 2,
  failureMode: 'closed',
};

describe('in-process fallback limiter', () => {
  it('sliding-window log: exact limit, sliding edge, rejection spends nothing', () => {
    const time = clock();
    const limiter = new InProcessRateLimiter(100, time.now);
    assert.equal(limiter.check('k', log, 1).admitted, true);
    time.advance(400);
    assert.deepEqual(limiter.check('k', log, 2), {
      admitted: true,
      remaining: 0,
      retryAfterMs: 0,
      nextUnitMs: 600,
    });
    assert.deepEqual(limiter.check('k', log, 2), {
      admitted: false,
      remaining: 0,
      retryAfterMs: 1_000,
      nextUnitMs: 600,
    });
    time.advance(600); // the first unit leaves exactly now
    assert.equal(limiter.check('k', log, 2).admitted, false, 'only one unit came back');
    assert.equal(limiter.check('k', log, 1).admitted, true);
  });

  it('gcra: burst at once, then one unit per interval', () => {
    const time = clock();
    const limiter = new InProcessRateLimiter(100, time.now);
    assert.deepEqual(
      [1, 2, 3].map(() => limiter.check('k', gcra, 1).admitted),
      [true, true, false],
    );
    const rejected = limiter.check('k', gcra, 1);
    assert.equal(Math.round(rejected.retryAfterMs), 100);
    time.advance(100);
    assert.equal(limiter.check('k', gcra, 1).admitted, true);
    assert.equal(limiter.check('k', gcra, 1).admitted, false);
    time.advance(10_000);
    assert.equal(limiter.check('k', gcra, 2).remaining, 0, 'rested: the full burst again');
  });

  it('remembers at most maxSubjects, least recently used evicted first', () => {
    const time = clock();
    const limiter = new InProcessRateLimiter(2, time.now);
    const exhaust = (key: string) => {
      for (let i = 0; i < 3; i++) limiter.check(key, log, 1);
    };
    exhaust('a');
    exhaust('b');
    assert.equal(limiter.check('a', log, 1).admitted, false); // touches a: b is now oldest
    exhaust('c');
    assert.equal(limiter.size, 2);
    assert.equal(limiter.check('a', log, 1).admitted, false, 'a kept');
    assert.equal(limiter.check('b', log, 1).admitted, true, 'b evicted, starts afresh');
  });
});
