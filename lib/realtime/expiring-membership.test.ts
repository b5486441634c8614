import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memberOf, subjectOf } from './expiring-membership.js';

describe('sorted-set members of expiring memberships', () => {
  const subjects = [
    '',
    'alice',
    '12:34',
    '3:abc',
    'unicode ✓ é 漢字 🚀',
    'line\nbreak',
    '{tag}',
    'x'.repeat(10_240),
  ];

  it('give back the subject whatever it and the suffix contain', () => {
    for (const subject of subjects) {
      for (const suffix of ['', 'gw-1:socket-abc', '🚀:x', '9:zzz']) {
        assert.equal(subjectOf(memberOf(subject, suffix)), subject);
      }
    }
  });

  it("never let one subject's prefix match another subject's member", () => {
    // The Lua scripts find a subject's members by prefix (memberOf(subject, '')).
    for (const a of subjects) {
      for (const b of subjects) {
        if (a === b) continue;
        for (const suffix of ['', 'gw-1:socket', `${b}`, '1:a']) {
          assert.ok(!memberOf(b, suffix).startsWith(memberOf(a, '')), `${a} vs ${b}`);
        }
      }
    }
  });
});
