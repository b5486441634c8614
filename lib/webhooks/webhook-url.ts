import { hostAllowed, isInternalAddress } from './webhook-address.js';

/**
 * Whether a webhook may point at `url`. Quad refuses what is never a webhook (other schemes,
 * credentials in the URL) and internal addresses (loopback, private, link-local and the like,
 * webhook-address.ts). WEBHOOK_ALLOWED_HOSTS, when set, is the only list of hosts allowed, and
 * a host named on it may be internal: that is how an operator opens an integration on their
 * own network deliberately. The worker checks again before each attempt, so shortening the
 * list stops deliveries to hosts taken off it.
 *
 * This sees the URL only: a name that resolves to an internal address is refused when the
 * worker connects (publicAddressLookup), not here.
 *
 * Returns the reason for a refusal, or undefined when the URL is acceptable.
 */
export function webhookUrlRefusal(
  raw: string,
  allowedHosts: readonly string[] | undefined,
): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be http or https';
  if (url.username !== '' || url.password !== '') {
    return 'must not carry credentials (the signature authenticates Quad)';
  }
  const host = url.hostname.toLowerCase();
  if (hostAllowed(host, allowedHosts)) return undefined;
  if (allowedHosts !== undefined) return `host ${host} is not in WEBHOOK_ALLOWED_HOSTS`;
  if (isInternalAddress(host)) {
    return `host ${host} is an internal address; name it in WEBHOOK_ALLOWED_HOSTS to allow it`;
  }
  return undefined;
}
