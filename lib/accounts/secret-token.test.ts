import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isWellFormedApiKey,
  isWellFormedSessionToken,
  newApiKey,
  newSessionToken,
  sha256,
} from './secret-token.js';

describe('secret tokens', () => {
  it('makes 256-bit base64url session tokens that are never alike', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => newSessionToken()));
    assert.equal(tokens.size, 100);
    for (const token of tokens) {
      assert.equal(Buffer.from(token, 'base64url').length, 32);
      assert.ok(isWellFormedSessionToken(token));
    }
  });

  it('makes prefixed API keys with a display prefix', () => {
    const { key, displayPrefix } = newApiKey();
    assert.match(key, /^qk_[A-Za-z0-9_-]{43}$/);
    assert.equal(displayPrefix, key.slice(0, 11));
    assert.ok(isWellFormedApiKey(key));
    assert.ok(!isWellFormedSessionToken(key), 'a key is not a session token');
  });

  it('refuses malformed credentials before any lookup', () => {
    for (const bad of ['', 'x', `${newSessionToken()}=`, `${newSessionToken()} `, 'a'.repeat(44)]) {
      assert.ok(!isWellFormedSessionToken(bad), bad);
    }
    assert.ok(!isWellFormedApiKey(`QK_${newSessionToken()}`));
  });

  it('hashes with SHA-256', () => {
    assert.equal(
      sha256('abc').toString('hex'),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});
