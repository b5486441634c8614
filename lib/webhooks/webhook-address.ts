import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Addresses a webhook must never reach unless the operator named its host in
 * WEBHOOK_ALLOWED_HOSTS: the server's own loopback, its private networks, link-local (where
 * cloud metadata services answer, 169.254.169.254), carrier-grade NAT, and whatever is not a
 * unicast destination on the internet (multicast, reserved, broadcast, documentation and
 * benchmarking ranges). An admin account, or a stolen admin session, must not be able to make
 * the worker probe internal services. Node's BlockList also matches IPv4-mapped IPv6 addresses
 * (::ffff:127.0.0.1) against the IPv4 rules.
 */
const internalAddresses = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"; 0.0.0.0 reaches the local host
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // deprecated 6to4 relays
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
] as const) {
  internalAddresses.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8], // multicast
] as const) {
  internalAddresses.addSubnet(network, prefix, 'ipv6');
}

/** Whether `address` (an IP literal, IPv6 with or without brackets or zone) is internal. */
export function isInternalAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 0) return false;
  return internalAddresses.check(bare, family === 6 ? 'ipv6' : 'ipv4');
}

/** Whether `host` (a URL's lowercase hostname) is named by WEBHOOK_ALLOWED_HOSTS. */
export function hostAllowed(host: string, allowedHosts: readonly string[] | undefined): boolean {
  if (allowedHosts === undefined) return false;
  return allowedHosts.some((pattern) =>
    pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern,
  );
}

/** A connection refused because its host resolved to an internal address. */
export class InternalAddressError extends Error {
  readonly code = 'EWEBHOOKINTERNAL';
  constructor(
    readonly host: string,
    readonly address: string,
  ) {
    super(
      `${host} resolves to ${address}, an internal address; name the host in WEBHOOK_ALLOWED_HOSTS to allow it`,
    );
    this.name = 'InternalAddressError';
  }
}

/**
 * The DNS lookup of every connection a webhook delivery opens (the `lookup` of its http and
 * https agents). The check runs on the addresses the socket is about to dial, after DNS and
 * before any packet is sent, so a name that resolves to 127.0.0.1, or rebinds to it after the
 * URL was accepted, is refused as well. When a name resolves to several addresses and any is
 * internal, all are refused: which one the socket would try first is not ours to choose.
 * Hosts named in WEBHOOK_ALLOWED_HOSTS are exempt: the operator opened them deliberately.
 *
 * IP literals never reach a lookup (Node dials them directly): webhookUrlRefusal checks those
 * before each attempt.
 */
export function publicAddressLookup(allowedHosts: readonly string[] | undefined): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) {
        callback(error, []);
        return;
      }
      if (!hostAllowed(hostname.toLowerCase(), allowedHosts)) {
        const internal = addresses.find((entry) => isInternalAddress(entry.address));
        if (internal !== undefined) {
          callback(new InternalAddressError(hostname, internal.address), []);
          return;
        }
      }
      const first = addresses[0];
      if (options.all) callback(null, addresses);
      else if (first === undefined)
        callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
      else callback(null, first.address, first.family);
    });
  };
}
