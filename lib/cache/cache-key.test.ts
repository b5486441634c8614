import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheKey, cacheKeyHead } from './cache-key.js';

describe('cache keys', () => {
  it('readable ids stay readable under prefix and namespace', () => {
    assert.equal(cacheKey('quad:', 'conversation', '8f14e45f'), 'quad:cache:conversation:8f14e45f');
    assert.equal(
      cacheKey('quad:', 'session', 'a'.repeat(64)),
      `quad:cache:session:${'a'.repeat(64)}`,
      'a hex SHA-256 (64 characters) stays readable',
    );
  });

  it('hostile ids become `~` and a hash: no braces, spaces, control characters or length', () => {
    const hostile = [
      '{user:1}',
      'a}b{c',
      'with space',
      'line\nbreak',
      '\u0000nul',
      'ключ',
      '😀',
      '*',
      'x'.repeat(65),
      'y'.repeat(100_000),
    ];
    const keys = hostile.map((id) => cacheKey('quad:', 'conversation', id));
    for (const key of keys) {
      assert.match(key, /^quad:cache:conversation:~[A-Za-z0-9_-]{22}$/);
    }
    assert.equal(new Set(keys).size, hostile.length, 'distinct ids, distinct keys');
  });

  it('a group puts every key of one group behind the same hash tag', () => {
    const head = cacheKeyHead('quad:', 'unread-counts', { hashTag: 'user', groupId: '42' });
    assert.equal(head, 'quad:cache:unread-counts:{user:42}:');
    const hostileGroup = cacheKeyHead('quad:', 'unread-counts', {
      hashTag: 'user',
      groupId: '}{evil',
    });
    assert.match(hostileGroup, /^quad:cache:unread-counts:\{user:~[A-Za-z0-9_-]{22}\}:$/);
  });

  it('an empty id is a caller bug', () => {
    assert.throws(() => cacheKey('quad:', 'conversation', ''), RangeError);
    assert.throws(
      () => cacheKeyHead('quad:', 'unread-counts', { hashTag: 'user', groupId: '' }),
      RangeError,
    );
  });
});
