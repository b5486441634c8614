import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { webhookUrlRefusal } from './webhook-url.js';

describe('webhookUrlRefusal', () => {
  it('accepts http and https to any public host when no list is set', () => {
    assert.equal(webhookUrlRefusal('https://hooks.example.org/quad', undefined), undefined);
    assert.equal(webhookUrlRefusal('http://93.184.216.34:8080/in', undefined), undefined);
    // Names are checked when the worker connects, on the addresses they resolve to.
    assert.equal(webhookUrlRefusal('http://localhost:8080/in', undefined), undefined);
  });

  it('refuses other schemes, non-URLs and credentials', () => {
    assert.match(webhookUrlRefusal('file:///etc/passwd', undefined) ?? '', /http or https/);
    assert.match(webhookUrlRefusal('gopher://x', undefined) ?? '', /http or https/);
    assert.match(webhookUrlRefusal('not a url', undefined) ?? '', /not a URL/);
    assert.match(webhookUrlRefusal('https://u:p@example.org/', undefined) ?? '', /credentials/);
  });

  it('refuses internal address literals, in every spelling the URL parser accepts', () => {
    for (const url of [
      'http://127.0.0.1:6379/',
      'http://2130706433/', // 127.0.0.1 as one number
      'http://0x7f.1/',
      'http://0/',
      'http://10.1.2.3/',
      'http://172.16.0.1/',
      'http://192.168.1.10/',
      'http://169.254.169.254/latest/meta-data',
      'http://100.64.0.1/',
      'http://[::1]/',
      'http://[::]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:a9fe:a9fe]/', // 169.254.169.254, IPv4-mapped
      'http://[fd00::1]/',
      'http://[fe80::1]/',
      'http://224.0.0.1/',
      'http://255.255.255.255/',
    ]) {
      assert.match(webhookUrlRefusal(url, undefined) ?? '', /internal address/, url);
    }
  });

  it('applies the allow-list: exact hosts and *.domain, which may be internal', () => {
    const hosts = ['hooks.example.org', '*.school.example', '127.0.0.1', '[::1]'];
    assert.equal(webhookUrlRefusal('https://hooks.example.org/a', hosts), undefined);
    assert.equal(webhookUrlRefusal('https://sis.school.example/a', hosts), undefined);
    assert.equal(webhookUrlRefusal('http://127.0.0.1:8080/a', hosts), undefined);
    assert.equal(webhookUrlRefusal('http://[::1]:8080/a', hosts), undefined);
    assert.match(webhookUrlRefusal('https://school.example.evil.org/', hosts) ?? '', /not in/);
    assert.match(webhookUrlRefusal('http://169.254.169.254/latest', hosts) ?? '', /not in/);
    assert.match(webhookUrlRefusal('http://127.0.0.2/', hosts) ?? '', /not in/);
  });
});
