import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { webhookUrlRefusal } from './webhook-url.js';

describe('webhookUrlRefusal', () => {
  it('accepts http and https to any host when no list is set', () => {
    assert.equal(webhookUrlRefusal('https://hooks.example.org/quad', undefined), undefined);
    assert.equal(webhookUrlRefusal('http://10.0.0.5:8080/in', undefined), undefined);
  });

  it('refuses other schemes, non-URLs and credentials', () => {
    assert.match(webhookUrlRefusal('file:///etc/passwd', undefined) ?? '', /http or https/);
    assert.match(webhookUrlRefusal('gopher://x', undefined) ?? '', /http or https/);
    assert.match(webhookUrlRefusal('not a url', undefined) ?? '', /not a URL/);
    assert.match(webhookUrlRefusal('https://u:p@example.org/', undefined) ?? '', /credentials/);
  });

  it('applies the allow-list: exact hosts and *.domain', () => {
    const hosts = ['hooks.example.org', '*.school.example'];
    assert.equal(webhookUrlRefusal('https://hooks.example.org/a', hosts), undefined);
    assert.equal(webhookUrlRefusal('https://sis.school.example/a', hosts), undefined);
    assert.match(webhookUrlRefusal('https://school.example.evil.org/', hosts) ?? '', /not in/);
    assert.match(webhookUrlRefusal('http://169.254.169.254/latest', hosts) ?? '', /not in/);
  });
});
