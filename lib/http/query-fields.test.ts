import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { queryIntegerField } from './query-fields.js';

describe('queryIntegerField', () => {
  const limit = queryIntegerField({ min: 1, max: 100, default: 20 });

  it('reads plain decimal digits, within bounds, with a default', () => {
    assert.equal(limit.parse('7'), 7);
    assert.equal(limit.parse('100'), 100);
    assert.equal(limit.parse(undefined), 20);
  });

  it('refuses every other way Number() reads a number', () => {
    for (const loose of ['0x10', '+5', '05', '1e2', ' 7', '7 ', '5.0', '-1', '', '٣', '1_0']) {
      assert.equal(limit.safeParse(loose).success, false, JSON.stringify(loose));
    }
  });

  it('refuses numbers out of bounds, however long', () => {
    for (const outside of ['0', '101', '9999999999', '99999999999999999999']) {
      assert.equal(limit.safeParse(outside).success, false, outside);
    }
  });
});
