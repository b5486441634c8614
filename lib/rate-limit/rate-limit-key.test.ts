import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeSubject, rateLimitKey } from './rate-limit-key.js';

describe('rate-limit keys', () => {
  it('keeps addresses and ids readable', () => {
    for (const subject of [
      '192.0.2.1',
      '2001:db8::1',
      '3f2b9c1e-0d8a-4c5e-9a51-6f1b2c3d4e5f',
      '42',
    ]) {
      assert.equal(encodeSubject(subject), subject);
    }
    assert.equal(
      rateLimitKey('quad:', 'login-ip', 'sliding-window-log', '192.0.2.1'),
      'quad:rl:{login-ip:192.0.2.1}:log',
    );
    assert.equal(rateLimitKey('quad:', 'api-user', 'gcra', '42'), 'quad:rl:{api-user:42}:gcra');
  });

  it('hashes anything else into a short, brace-free, deterministic token', () => {
    const hostile = [
      'a b',
      '{x}',
      '}',
      'x\ny',
      'é',
      '🙂',
      'x'.repeat(1_000_000),
      'a@b.edu',
      '~abc',
    ];
    const encoded = hostile.map(encodeSubject);
    for (const token of encoded) assert.match(token, /^~[A-Za-z0-9_-]{22}$/);
    assert.equal(new Set(encoded).size, hostile.length);
    assert.equal(encodeSubject('a b'), encodeSubject('a b'));
    assert.notEqual(encodeSubject('A@b.edu'), encodeSubject('a@b.edu'));
  });

  it('refuses an empty subject (a missing address or id is a bug, not a shared bucket)', () => {
    assert.throws(() => encodeSubject(''), RangeError);
  });
});
