import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSearchCursor, encodeSearchCursor } from './search-cursor.js';
import { InvalidSearchCursorError } from './search-errors.js';

const position = {
  createdAt: '2026-11-23T04:05:06.123456Z',
  id: '0b6f3c1e-8a0f-4c55-9c1d-2f9e7a1b3c4d',
};
const raw = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

describe('search cursor', () => {
  it('round-trips a position, microseconds included', () => {
    assert.deepEqual(decodeSearchCursor(encodeSearchCursor(position)), position);
  });

  it('refuses anything it did not issue', () => {
    const refused = [
      '',
      'not a cursor',
      raw('v2:2026-11-23T04:05:06.123456Z:0b6f3c1e-8a0f-4c55-9c1d-2f9e7a1b3c4d'),
      // Milliseconds only: would repeat or skip results.
      raw('v1:2026-11-23T04:05:06.123Z:0b6f3c1e-8a0f-4c55-9c1d-2f9e7a1b3c4d'),
      // No such day: must not reach PostgreSQL.
      raw('v1:2026-02-31T04:05:06.123456Z:0b6f3c1e-8a0f-4c55-9c1d-2f9e7a1b3c4d'),
      raw('v1:2026-11-23T25:05:06.123456Z:0b6f3c1e-8a0f-4c55-9c1d-2f9e7a1b3c4d'),
      raw('v1:0000-11-23T04:05:06.123456Z:0b6f3c1e-8a0f-4c55-9c1d-2f9e7a1b3c4d'),
      raw('v1:2026-11-23T04:05:06.123456Z:not-a-uuid'),
      raw("v1:2026-11-23T04:05:06.123456Z:0b6f3c1e-8a0f-4c55-9c1d-2f9e7a1b3c4d' OR 1=1"),
      // A history cursor of lib/conversations is not a search cursor.
      raw('v1:42'),
    ];
    for (const cursor of refused) {
      assert.throws(() => decodeSearchCursor(cursor), InvalidSearchCursorError, cursor);
    }
  });
});
