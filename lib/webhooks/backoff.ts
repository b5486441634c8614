/**
 * Exponential backoff with full jitter (the AWS architecture blog's "full jitter"): the wait
 * before retry n (1-based) is uniform in [0, min(max, base · 2^(n-1))]. Spreading retries over
 * the whole window is what stops the deliveries that failed together during an outage from all
 * retrying in the same instant when the receiver comes back.
 */
export function fullJitterDelayMs(
  retry: number,
  settings: { backoffBaseMs: number; backoffMaxMs: number },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    settings.backoffMaxMs,
    settings.backoffBaseMs * 2 ** Math.min(Math.max(retry - 1, 0), 30),
  );
  return Math.floor(random() * (ceiling + 1));
}
