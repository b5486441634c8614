import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { describe, it } from 'node:test';
import { InternalAddressError, isInternalAddress, publicAddressLookup } from './webhook-address.js';

/** Runs a lookup as net.connect does (all addresses, for Happy Eyeballs). */
function resolve(
  allowedHosts: readonly string[] | undefined,
  hostname: string,
): Promise<LookupAddress[]> {
  return new Promise((done, fail) => {
    publicAddressLookup(allowedHosts)(hostname, { all: true }, (error, addresses) => {
      if (error) fail(error);
      else done(addresses as LookupAddress[]);
    });
  });
}

describe('isInternalAddress', () => {
  it('refuses loopback, private, link-local, CGNAT, multicast, reserved and mapped ranges', () => {
    for (const address of [
      '127.0.0.1',
      '127.255.0.9',
      '0.0.0.0',
      '10.0.0.1',
      '172.31.255.255',
      '192.168.0.1',
      '169.254.169.254',
      '100.100.100.200',
      '224.0.0.251',
      '240.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fd12:3456::1',
      'fe80::1%eth0',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:a9fe:a9fe',
      '[::1]',
    ]) {
      assert.equal(isInternalAddress(address), true, address);
    }
  });

  it('lets public addresses through', () => {
    for (const address of [
      '93.184.216.34',
      '8.8.8.8',
      '172.32.0.1',
      '100.128.0.1',
      '2606:2800:220:1::1',
      '::ffff:8.8.8.8',
      'hooks.example.org',
    ]) {
      assert.equal(isInternalAddress(address), false, address);
    }
  });
});

describe('publicAddressLookup', () => {
  it('refuses a name that resolves to loopback (localhost, from /etc/hosts)', async () => {
    await assert.rejects(resolve(undefined, 'localhost'), (error: unknown) => {
      assert.ok(error instanceof InternalAddressError);
      assert.equal(error.host, 'localhost');
      assert.ok(isInternalAddress(error.address));
      return true;
    });
  });

  it('lets a host named in WEBHOOK_ALLOWED_HOSTS resolve to loopback', async () => {
    const addresses = await resolve(['localhost'], 'localhost');
    assert.ok(addresses.length > 0);
    assert.ok(addresses.every((entry) => isInternalAddress(entry.address)));
  });
});
