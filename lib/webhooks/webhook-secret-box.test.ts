import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  parseSecretKey,
  WebhookSecretBox,
  WebhookSecretUnreadableError,
} from './webhook-secret-box.js';

const secret = 'whsec_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';

describe('WebhookSecretBox', () => {
  it('seals with a fresh nonce each time and opens what it sealed', () => {
    const box = new WebhookSecretBox({ current: randomBytes(32), previous: undefined });
    const id = randomUUID();
    const once = box.seal(secret, id);
    const twice = box.seal(secret, id);
    assert.notEqual(once, twice);
    for (const sealed of [once, twice]) {
      assert.ok(!sealed.includes(secret));
      assert.ok(!sealed.includes(secret.slice(6)));
      assert.ok(box.isCurrent(sealed));
      assert.equal(box.open(sealed, id), secret);
    }
  });

  it('refuses a ciphertext moved to another webhook or altered', () => {
    const box = new WebhookSecretBox({ current: randomBytes(32), previous: undefined });
    const id = randomUUID();
    const sealed = box.seal(secret, id);
    assert.throws(() => box.open(sealed, randomUUID()), WebhookSecretUnreadableError);
    const parts = sealed.split('.');
    const ciphertext = Buffer.from(parts[3] ?? '', 'base64url');
    ciphertext[0] = (ciphertext[0] ?? 0) ^ 1;
    parts[3] = ciphertext.toString('base64url');
    assert.throws(() => box.open(parts.join('.'), id), WebhookSecretUnreadableError);
  });

  it('opens secrets sealed with the previous key after a rotation, and none without it', () => {
    const oldKey = randomBytes(32);
    const id = randomUUID();
    const sealedBefore = new WebhookSecretBox({ current: oldKey, previous: undefined }).seal(
      secret,
      id,
    );
    const rotated = new WebhookSecretBox({ current: randomBytes(32), previous: oldKey });
    assert.equal(rotated.open(sealedBefore, id), secret);
    assert.equal(rotated.isCurrent(sealedBefore), false);
    assert.ok(rotated.isCurrent(rotated.seal(secret, id)));
    const forgotten = new WebhookSecretBox({ current: randomBytes(32), previous: undefined });
    assert.throws(() => forgotten.open(sealedBefore, id), /neither WEBHOOK_SECRET_KEY/);
  });

  it('reads a secret stored before encryption as it is, and calls it not current', () => {
    const box = new WebhookSecretBox({ current: randomBytes(32), previous: undefined });
    assert.equal(box.open(secret, randomUUID()), secret);
    assert.equal(box.isCurrent(secret), false);
  });
});

describe('parseSecretKey', () => {
  it('reads 32 bytes as hex or base64, nothing else', () => {
    const key = randomBytes(32);
    assert.deepEqual(parseSecretKey(key.toString('hex')), key);
    assert.deepEqual(parseSecretKey(key.toString('base64')), key);
    assert.deepEqual(parseSecretKey(key.toString('base64url')), key);
    for (const bad of [
      'change-me',
      randomBytes(16).toString('hex'),
      randomBytes(33).toString('base64'),
      '',
    ]) {
      assert.equal(parseSecretKey(bad), undefined, bad);
    }
  });
});
