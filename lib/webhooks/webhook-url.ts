/**
 * Whether a webhook may point at `url`. Quad refuses what is never a webhook (other schemes,
 * credentials in the URL) and, when the operator set WEBHOOK_ALLOWED_HOSTS, every host not on
 * it. Which internal addresses must stay out of reach (a metadata service, the Redis port) only
 * the operator knows, so the list is theirs; unset, any host is allowed and the admins who
 * register webhooks are trusted with it (docs/configuration.md). The worker checks again before
 * each attempt, so shortening the list stops deliveries to hosts taken off it.
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
  if (allowedHosts === undefined) return undefined;
  const host = url.hostname.toLowerCase();
  const allowed = allowedHosts.some((pattern) =>
    pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern,
  );
  return allowed ? undefined : `host ${host} is not in WEBHOOK_ALLOWED_HOSTS`;
}
