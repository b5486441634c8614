import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { passwordProblems } from './password-strength.js';

describe('passwordProblems', () => {
  it('accepts a long passphrase', () => {
    assert.deepEqual(passwordProblems('correct horse battery staple'), []);
    assert.deepEqual(passwordProblems('Tr0mbone-Lantern-42'), []);
  });

  it('names every weakness it finds', () => {
    assert.deepEqual(passwordProblems('short'), ['must be at least 12 characters long']);
    assert.deepEqual(passwordProblems('aaaaaaaaaaaaaa'), [
      'uses too few different characters',
      'is a keyboard, alphabet or number sequence, or a repeated pattern',
    ]);
    assert.ok(passwordProblems('x'.repeat(300)).includes('must be at most 256 characters long'));
  });

  it('refuses sequences, repetitions and decorated common words', () => {
    for (const weak of [
      '123456789012',
      '0987654321098',
      'qwertyuiopasdf',
      'abcdefghijklm',
      'abcdabcdabcd',
      'Password1234!',
      '!!Welcome2026!!',
      'passwordpassword',
    ]) {
      assert.ok(passwordProblems(weak).length > 0, `${weak} should be weak`);
    }
  });

  it('refuses a password built from the person’s own name, username or email', () => {
    const context = {
      username: 'j.smith',
      email: 'jsmith@school.example',
      displayName: 'Jo Smith',
    };
    assert.deepEqual(passwordProblems('my name is j.smith!', context), [
      'must not contain your name, username or email address',
    ]);
    assert.ok(passwordProblems('jsmith-was-here-2026', context).length > 0);
    assert.ok(passwordProblems('SMITH family tree!', context).length > 0);
    // Short name parts ("Jo") are too common to forbid.
    assert.deepEqual(passwordProblems('jo plays the oboe well', context), []);
  });
});
