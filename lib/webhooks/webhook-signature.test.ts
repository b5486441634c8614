import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { signatureHeader, verifySignature } from './webhook-signature.js';

describe('Quad-Signature', () => {
  const secret = 'whsec_test-secret';
  const body = '{"id":"7","type":"message.created"}';

  it('is t=<seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">', () => {
    const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
    assert.equal(signatureHeader(secret, body, 1_700_000_000), `t=1700000000,v1=${expected}`);
  });

  it('verifies, and refuses another secret, another body, or an old timestamp', () => {
    const header = signatureHeader(secret, body, 1_700_000_000);
    assert.ok(verifySignature(secret, body, header, 300, 1_700_000_100));
    assert.ok(!verifySignature('whsec_other', body, header, 300, 1_700_000_100));
    assert.ok(!verifySignature(secret, `${body} `, header, 300, 1_700_000_100));
    assert.ok(!verifySignature(secret, body, header, 300, 1_700_000_301));
    assert.ok(!verifySignature(secret, body, 'v1=abc', 300, 1_700_000_000));
  });
});
