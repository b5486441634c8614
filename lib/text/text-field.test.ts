import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { textField } from './text-field.js';

describe('textField: the one rule for free text', () => {
  const line = textField({ max: 50 });
  const multiline = textField({ max: 50, kind: 'multiline' });
  const name = textField({ max: 50, kind: 'name' });

  it('refuses NUL and lone surrogates in every kind (PostgreSQL cannot store them)', () => {
    for (const schema of [line, multiline, name]) {
      for (const text of ['a\u0000b', '\ud800', 'x\udfffy', 'a\ud83d']) {
        assert.equal(schema.safeParse(text).success, false, JSON.stringify(text));
      }
    }
  });

  it('refuses every other control character, except tabs and line breaks in multi-line text', () => {
    const controls = [
      ...Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)),
      '\u007f',
      '\u0085',
      '\u009f',
    ];
    for (const control of controls) {
      const text = `a${control}b`;
      assert.equal(line.safeParse(text).success, false, JSON.stringify(text));
      assert.equal(name.safeParse(text).success, false, JSON.stringify(text));
      assert.equal(multiline.safeParse(text).success, ['\t', '\n', '\r'].includes(control));
    }
  });

  it('refuses bidi embeddings, overrides and isolates in names only', () => {
    for (const control of ['\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2069']) {
      const text = `gnp${control}exe`;
      assert.equal(name.safeParse(text).success, false, JSON.stringify(text));
      assert.equal(line.safeParse(text).success, true);
      assert.equal(multiline.safeParse(text).success, true);
    }
  });

  it('accepts the text people write: accents, emoji, combining marks, scripts', () => {
    for (const text of ['Zoë', '😀 👍🏽', 'e\u0301', 'שלום', '日本語', "O'Brien"]) {
      for (const schema of [line, multiline, name]) assert.equal(schema.parse(text), text);
    }
  });

  it('trims, then bounds the length', () => {
    assert.equal(line.parse('  hi  '), 'hi');
    assert.equal(line.safeParse('   ').success, false);
    assert.equal(textField({ max: 5, min: 0 }).parse('   '), '');
    assert.equal(line.safeParse('x'.repeat(51)).success, false);
    assert.equal(textField({ max: 10, trim: false }).parse(' k '), ' k ');
  });
});
