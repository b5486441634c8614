import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidCursorError } from './conversation-errors.js';
import { decodeCursor, encodeCursor } from './message-cursor.js';

describe('message cursors', () => {
  it('round-trips a sequence number through an opaque string', () => {
    for (const seq of [1, 42, 9_007_199_254_740_991]) {
      const cursor = encodeCursor(seq);
      assert.match(cursor, /^[A-Za-z0-9_-]+$/);
      assert.equal(decodeCursor(cursor), seq);
    }
  });

  it('refuses anything it did not issue', () => {
    const forged = [
      '',
      'bm9wZQ',
      Buffer.from('v1:0').toString('base64url'),
      Buffer.from('v1:-5').toString('base64url'),
      Buffer.from('v1:1e3').toString('base64url'),
      Buffer.from('v2:5').toString('base64url'),
      Buffer.from('v1:99999999999999999').toString('base64url'),
    ];
    for (const cursor of forged)
      assert.throws(() => decodeCursor(cursor), InvalidCursorError, cursor);
  });
});
